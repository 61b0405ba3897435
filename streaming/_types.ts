/**
 * What the streaming server needs from the runtime, and what it hands back.
 *
 * @module
 */
import type { StdioSession, TerminalSize } from "../shim/protocol.ts";

import type { Duplex } from "../lib/tcp_duplex.ts";

export type { StdioSession, TerminalSize };

/** A TCP connection into a pod, for port forwarding (half-closes: see `lib/tcp_duplex.ts`). */
export type PortForwardConnection = Duplex;

/** The runtime operations behind the streaming endpoints. */
export interface StreamingBackend {
  /** Starts `cmd` in a running container with the requested stdio. */
  exec(
    containerId: string,
    opts: { cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean },
  ): Promise<StdioSession>;
  /** Attaches to a running container's stdio. */
  attach(
    containerId: string,
    opts: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean },
  ): Promise<StdioSession>;
  /** Connects to `127.0.0.1:port` inside the pod's network namespace. */
  portForward(podSandboxId: string, port: number): Promise<PortForwardConnection>;
}
