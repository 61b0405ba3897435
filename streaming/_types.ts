/**
 * What the streaming server needs from the runtime, and what it hands back.
 *
 * @module
 */

/** A terminal size: width in columns, height in rows (CRI's names). */
export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The stdio of a streaming exec or an attach, as the shim client provides it (the same
 * shape as `StdioSession` in `shim/client/`).
 */
export interface StdioSession {
  /** Bytes for the process's stdin; closing it ends stdin (on a tty: ^D). */
  stdin?: WritableStream<Uint8Array>;
  /** The process's stdout (on a tty: all of its output). */
  stdout?: ReadableStream<Uint8Array>;
  /** The process's stderr (never on a tty). */
  stderr?: ReadableStream<Uint8Array>;
  /** Resizes the terminal. */
  resize(size: TerminalSize): Promise<void>;
  /** Resolves when the process (exec) or container (attach) exits; rejects if the session ends first. */
  exit: Promise<{ exitCode: number }>;
  /** Ends the session: an exec'd process is killed, an attached container keeps running. */
  close(): void;
}

/** A TCP connection into a pod, for port forwarding. */
export interface PortForwardConnection {
  /** Bytes from the pod's socket; ends when it shuts down its sending side. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes for the pod's socket; closing it shuts down our sending side (half-close). */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the connection both ways. Idempotent. */
  close(): void;
}

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
