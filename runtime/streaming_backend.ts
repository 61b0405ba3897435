/**
 * The runtime side of the streaming server: exec and attach go through the container's
 * shim (which owns the process and its pty), port-forward dials 127.0.0.1:port inside the
 * pod's pinned network namespace (or on the node for host-network pods).
 *
 * @module
 */
import { failedPrecondition, unavailable } from "../errors/mod.ts";
import type { RuntimeCore } from "./core.ts";
import type { StdioSession } from "../shim/protocol.ts";
import type { Container } from "./records.ts";
import { type Duplex, tcpDuplex } from "../lib/tcp_duplex.ts";

/** A connection into a pod, as the streaming server relays it. */
export type PodConnection = Duplex;

/** Dials inside a network namespace (the streaming server's NetnsDialer). */
export interface NetnsDial {
  dial(netnsPath: string, port: number): Promise<PodConnection>;
}

function running(core: RuntimeCore, id: string, action: string): Container {
  const c = core.container(id);
  if (c.doc.state !== "running") {
    throw failedPrecondition(
      `cannot ${action} container "${c.doc.id}": it is ${c.doc.state}, not running`,
    );
  }
  if (!c.shim) throw unavailable(`container "${c.doc.id}" has no shim`);
  return c;
}

/** Checks an Exec request before its URL is minted. */
export function checkExec(core: RuntimeCore, id: string): string {
  return running(core, id, "exec in").doc.id;
}

/** Checks an Attach request before its URL is minted (tty must match the container's). */
export function checkAttach(core: RuntimeCore, id: string, tty: boolean): string {
  const c = running(core, id, "attach to");
  if (tty !== c.config.tty) {
    throw failedPrecondition(
      `cannot attach to container "${c.doc.id}" with tty=${tty}: it was created with tty=${c.config.tty}`,
    );
  }
  return c.doc.id;
}

/** Checks a PortForward request before its URL is minted. */
export function checkPortForward(core: RuntimeCore, podId: string): string {
  const s = core.sandbox(podId);
  core.requireReady(s, "port-forward into it");
  return s.doc.id;
}

/** The streaming backend over the runtime. */
export function streamingBackend(core: RuntimeCore, dialer: NetnsDial): {
  exec(id: string, o: { cmd: string[]; tty: boolean; stdin: boolean }): Promise<StdioSession>;
  attach(
    id: string,
    o: { stdin: boolean; stdout: boolean; stderr: boolean },
  ): Promise<StdioSession>;
  portForward(podId: string, port: number): Promise<PodConnection>;
} {
  return {
    exec: (id, o) =>
      running(core, id, "exec in").shim!.exec({ args: o.cmd, tty: o.tty, stdin: o.stdin }),
    attach: (id, o) =>
      running(core, id, "attach to").shim!.attach({
        stdin: o.stdin,
        stdout: o.stdout,
        stderr: o.stderr,
      }),
    portForward: async (podId, port) => {
      const s = core.sandbox(podId);
      core.requireReady(s, "port-forward into it");
      if (s.doc.ns.net) return await dialer.dial(s.doc.ns.net, port);
      return tcpDuplex(await Deno.connect({ hostname: "127.0.0.1", port }));
    },
  };
}
