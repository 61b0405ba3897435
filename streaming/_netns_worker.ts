/**
 * A Worker that lives in one network namespace and owns the sockets dialled there (see
 * `netns_dial.ts`). It joins the namespace first thing; a Worker runs its JS and its
 * socket I/O on its own OS thread, so sockets it opens are created inside the pod.
 *
 * @module
 */
import { SyscallError } from "../ffi/mod.ts";
import { currentNetworkNamespace, enterNetworkNamespace } from "../ffi/setns.ts";
import type { FromWorker, ToWorker } from "./_netns_protocol.ts";

/** The worker global scope, typed narrowly (the project is checked with the window lib). */
interface WorkerScope {
  postMessage(message: FromWorker, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

interface Conn {
  readonly conn: Deno.TcpConn;
  ack: (() => void) | undefined;
  closed: boolean;
}

const conns = new Map<number, Conn>();
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

async function dial(id: number, port: number): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port, transport: "tcp" });
  } catch (err) {
    // Go's wording, which kubectl users know from the kubelet.
    const why = err instanceof Deno.errors.ConnectionRefused
      ? "connect: connection refused"
      : err instanceof Error
      ? err.message
      : String(err);
    post({ t: "dial-error", id, message: `dial tcp4 127.0.0.1:${port}: ${why}` });
    return;
  }
  conn.setNoDelay(true);
  const c: Conn = { conn, ack: undefined, closed: false };
  conns.set(id, c);
  post({ t: "dialed", id });
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) {
        post({ t: "eof", id });
        return;
      }
      const chunk = buf.slice(0, n);
      const acked = new Promise<void>((resolve) => (c.ack = resolve));
      post({ t: "data", id, chunk }, [chunk.buffer]);
      await acked;
      if (c.closed) return;
    }
  } catch (err) {
    if (!c.closed) {
      post({ t: "error", id, message: err instanceof Error ? err.message : String(err) });
    }
  }
}

async function write(id: number, chunk: Uint8Array): Promise<void> {
  const c = conns.get(id);
  if (!c || c.closed) {
    post({ t: "written", id, error: "connection closed" });
    return;
  }
  try {
    let off = 0;
    while (off < chunk.byteLength) off += await c.conn.write(chunk.subarray(off));
    post({ t: "written", id });
  } catch (err) {
    post({ t: "written", id, error: err instanceof Error ? err.message : String(err) });
  }
}

function close(id: number): void {
  const c = conns.get(id);
  if (!c) return;
  conns.delete(id);
  c.closed = true;
  c.ack?.();
  try {
    c.conn.close();
  } catch {
    // Already closed.
  }
  post({ t: "closed", id });
}

// Writes to one connection must stay in order; each connection has its own chain.
const chains = new Map<number, Promise<void>>();
function inOrder(id: number, f: () => Promise<void>): void {
  const next = (chains.get(id) ?? Promise.resolve()).then(f);
  chains.set(id, next);
  next.finally(() => {
    if (chains.get(id) === next) chains.delete(id);
  });
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  switch (m.t) {
    case "init":
      try {
        enterNetworkNamespace(m.path);
        post({ t: "ready", netns: currentNetworkNamespace() });
      } catch (err) {
        post({
          t: "init-error",
          message: err instanceof Error ? err.message : String(err),
          errno: err instanceof SyscallError ? err.errno : 0,
        });
      }
      return;
    case "dial":
      dial(m.id, m.port);
      return;
    case "data":
      inOrder(m.id, () => write(m.id, m.chunk));
      return;
    case "ack": {
      const c = conns.get(m.id);
      const ack = c?.ack;
      if (c) c.ack = undefined;
      ack?.();
      return;
    }
    case "end":
      inOrder(m.id, async () => {
        await conns.get(m.id)?.conn.closeWrite().catch(() => {});
      });
      return;
    case "close":
      inOrder(m.id, () => Promise.resolve(close(m.id)));
      return;
  }
};
