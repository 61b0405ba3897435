/**
 * Port forwarding (`portforward.k8s.io`), over SPDY and over WebSocket.
 *
 * SPDY (kubelet `cri/streaming/portforward/httpstream.go`): for every forwarded connection
 * the client opens an `error` and a `data` stream with the same `port` and `requestID`
 * headers; once both exist the server connects to the port inside the pod and copies
 * bytes. A failed dial or a broken connection is reported as text on the error stream. Many
 * ports and many connections share one session.
 *
 * WebSocket (kubelet `portforward/websocket.go`): the ports come from the request; port i
 * has a data channel 2i and an error channel 2i+1, and the server's first message on each
 * is the port number, 2 bytes little-endian. One connection per port per WebSocket.
 *
 * Half-close is carried through: when the client finishes sending, the pod's socket is
 * shut down for writing and its reply still flows back; when the pod finishes, the data
 * stream gets FIN. (containerd instead gives the other direction one second.)
 *
 * @module
 */
import { messageOf } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { Feed } from "./_feed.ts";
import type { PortForwardConnection, StreamingBackend } from "./_types.ts";
import type { ChannelCodec } from "./_ws_command.ts";
import { RstStatus, type SpdySession, type SpdyStream } from "../lib/spdy/mod.ts";
import { CloseCode, type WebSocketConnection } from "../lib/websocket/mod.ts";

/** Subprotocols of port forwarding over WebSocket (`""`: the client named none). */
export const WS_PORTFORWARD_PROTOCOLS = [
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  "portforward.k8s.io",
] as const;

/** The SPDY subprotocol, also tunnelled over WebSocket as `SPDY/3.1+portforward.k8s.io`. */
export const PORTFORWARD_PROTOCOL = "portforward.k8s.io";

const enc = new TextEncoder();

/** The client's end of one forwarded connection. */
interface ClientEnd {
  /** Bytes from the client; ends at its FIN. */
  readonly readable: ReadableStream<Uint8Array>;
  write(data: Uint8Array): Promise<void>;
  /** Tells the client the pod has finished sending (SPDY FIN); a no-op on WebSocket. */
  end(): Promise<void>;
}

/**
 * Copies between `conn` and `client`. Resolves when the pod has finished sending (or the
 * copy failed), with the pod-side error if there was one; `upstream` settles when the
 * client has finished sending too.
 */
function relay(
  conn: PortForwardConnection,
  client: ClientEnd,
): { downstream: Promise<unknown>; upstream: Promise<void> } {
  let podError: unknown;
  const upstream = (async () => {
    const reader = client.readable.getReader();
    const writer = conn.writable.getWriter();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        try {
          await writer.write(value);
        } catch (err) {
          podError ??= err;
          throw err;
        }
      }
      // The client is done sending: shut down our side towards the pod (half-close).
      await writer.close();
    } catch {
      reader.cancel().catch(() => {});
      writer.abort().catch(() => {});
    }
  })();
  const downstream = (async () => {
    const reader = conn.readable.getReader();
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          podError ??= err;
          return podError;
        }
        if (chunk.done) break;
        await client.write(chunk.value);
      }
      await client.end();
    } catch {
      // The client went away; nothing to report to it.
      reader.cancel().catch(() => {});
    }
    return podError;
  })();
  return { downstream, upstream };
}

/** Closes a pod connection; a backend whose close throws must not take the agent down. */
function closeQuietly(conn: PortForwardConnection, log: Logger): void {
  try {
    conn.close();
  } catch (err) {
    log.debug("closing a port-forward connection failed", { error: messageOf(err) });
  }
}

function forwardError(port: number, podId: string, err: unknown): string {
  // The kubelet's wording, so clients and people recognise it.
  return `error forwarding port ${port} to pod ${podId}, uid : ${messageOf(err)}`;
}

/** A pair of SPDY streams for one forwarded connection. */
interface Pair {
  readonly id: string;
  data?: SpdyStream;
  error?: SpdyStream;
  timer?: ReturnType<typeof setTimeout>;
}

/** Serves the SPDY port-forward protocol on one session. */
export class SpdyPortForward {
  readonly #podId: string;
  readonly #backend: StreamingBackend;
  readonly #log: Logger;
  readonly #creationTimeoutMs: number;
  readonly #pairs = new Map<string, Pair>();
  readonly #conns = new Set<PortForwardConnection>();
  readonly #tasks = new Set<Promise<void>>();

  /** For pod `podId`; pairs incomplete after `creationTimeoutMs` are dropped. */
  constructor(podId: string, backend: StreamingBackend, log: Logger, creationTimeoutMs: number) {
    this.#podId = podId;
    this.#backend = backend;
    this.#log = log;
    this.#creationTimeoutMs = creationTimeoutMs;
  }

  /** The session's stream handler. */
  readonly onStream = (s: SpdyStream): void => {
    const portText = s.header("port") ?? "";
    const type = s.header("streamtype") ?? "";
    const port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
      this.#log.debug("refusing a port-forward stream without a valid port", { port: portText });
      s.reset(RstStatus.RefusedStream);
      return;
    }
    if (type !== "error" && type !== "data") {
      this.#log.debug("refusing a port-forward stream of unknown type", { streamType: type });
      s.reset(RstStatus.RefusedStream);
      return;
    }
    s.reply().catch(() => {});
    // Clients before Kubernetes 1.5 sent no requestID; the kubelet pairs their streams by
    // id (error: n, data: n + 2), which works as long as connections are not concurrent.
    const id = s.header("requestid") ?? String(type === "error" ? s.id : s.id - 2);
    let pair = this.#pairs.get(id);
    if (!pair) {
      pair = { id };
      this.#pairs.set(id, pair);
      const p = pair;
      pair.timer = setTimeout(() => this.#expire(p), this.#creationTimeoutMs);
    }
    if (type === "error") {
      if (pair.error) return this.#duplicate(pair, s, "error");
      pair.error = s;
      // Nothing is read from the error stream; keep stray bytes from backing up the session.
      s.readable.cancel().catch(() => {});
    } else {
      if (pair.data) return this.#duplicate(pair, s, "data");
      pair.data = s;
    }
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      this.#pairs.delete(id);
      this.#track(this.#forward(port, pair.data, pair.error));
    }
  };

  /** Serves until the session ends, then closes every forwarded connection. */
  async run(session: SpdySession): Promise<void> {
    await session.done;
    for (const p of this.#pairs.values()) clearTimeout(p.timer);
    this.#pairs.clear();
    for (const c of this.#conns) closeQuietly(c, this.#log);
    await Promise.allSettled([...this.#tasks]);
  }

  #track(p: Promise<void>): void {
    // A forwarding task must never reject unobserved: that would end the agent.
    const task: Promise<void> = p.catch((err) => {
      this.#log.warn("port-forward connection failed unexpectedly", { error: messageOf(err) });
    }).finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  #duplicate(pair: Pair, s: SpdyStream, type: string): void {
    const msg = `error processing stream for request ${pair.id}: ${type} stream already assigned`;
    this.#log.warn("duplicate port-forward stream", { requestId: pair.id, streamType: type });
    pair.error?.write(enc.encode(msg)).catch(() => {});
    s.reset(RstStatus.ProtocolError);
  }

  #expire(pair: Pair): void {
    if (this.#pairs.get(pair.id) !== pair) return;
    this.#pairs.delete(pair.id);
    this.#log.warn("timed out waiting for port-forward streams", { requestId: pair.id });
    const err = pair.error;
    if (err) {
      err.write(enc.encode(`timed out waiting for streams of request ${pair.id}`))
        .then(() => err.end(), () => {})
        .finally(() => err.reset());
    }
    pair.data?.reset();
  }

  async #forward(port: number, data: SpdyStream, error: SpdyStream): Promise<void> {
    const log = this.#log.with({ port });
    let conn: PortForwardConnection;
    try {
      conn = await this.#backend.portForward(this.#podId, port);
    } catch (err) {
      log.info("port-forward dial failed", { error: messageOf(err) });
      await error.write(enc.encode(forwardError(port, this.#podId, err))).catch(() => {});
      await Promise.allSettled([error.end(), data.end()]);
      data.readable.cancel().catch(() => {});
      return;
    }
    this.#conns.add(conn);
    try {
      const { downstream, upstream } = relay(conn, {
        readable: data.readable,
        write: (d) => data.write(d),
        end: () => data.end(),
      });
      const podError = await downstream;
      if (podError !== undefined) {
        log.info("port-forward connection failed", { error: messageOf(podError) });
        await error.write(enc.encode(forwardError(port, this.#podId, podError))).catch(() => {});
        await data.end().catch(() => {});
        data.readable.cancel().catch(() => {});
      }
      // client-go waits for the error stream to end before it lets go of the connection.
      await error.end().catch(() => {});
      await upstream;
    } finally {
      closeQuietly(conn, log);
      this.#conns.delete(conn);
    }
  }
}

/** Serves port forwarding over WebSocket channels for `ports`, until done or gone. */
export async function runWsPortForward(
  ws: WebSocketConnection,
  codec: ChannelCodec,
  ports: readonly number[],
  podId: string,
  backend: StreamingBackend,
  log: Logger,
): Promise<void> {
  const send = (channel: number, data: Uint8Array) => {
    const m = codec.encode(channel, data);
    return ws.send(m.data, m.binary);
  };
  const feeds = ports.map(() => new Feed());
  const conns = new Set<PortForwardConnection>();
  for (const [i, port] of ports.entries()) {
    const prefix = new Uint8Array([port & 0xff, port >> 8]);
    await send(2 * i, prefix).catch(() => {});
    await send(2 * i + 1, prefix).catch(() => {});
  }
  const demux = (async () => {
    try {
      for await (const m of ws.messages) {
        const msg = codec.decode(m);
        if (!msg || msg.channel % 2 !== 0) continue;
        await feeds[msg.channel / 2]?.push(msg.data);
      }
    } finally {
      for (const f of feeds) f.close();
    }
  })();
  const forwards = ports.map(async (port, i) => {
    let conn: PortForwardConnection;
    try {
      conn = await backend.portForward(podId, port);
    } catch (err) {
      log.info("port-forward dial failed", { port, error: messageOf(err) });
      await send(2 * i + 1, enc.encode(forwardError(port, podId, err))).catch(() => {});
      feeds[i]!.readable.cancel().catch(() => {});
      return;
    }
    conns.add(conn);
    try {
      const { downstream } = relay(conn, {
        readable: feeds[i]!.readable,
        write: (d) => send(2 * i, d),
        end: () => Promise.resolve(),
      });
      const podError = await downstream;
      if (podError !== undefined) {
        await send(2 * i + 1, enc.encode(forwardError(port, podId, podError))).catch(() => {});
      }
    } finally {
      closeQuietly(conn, log);
      conns.delete(conn);
      feeds[i]!.readable.cancel().catch(() => {});
    }
  });
  const all = Promise.allSettled(forwards);
  const outcome = await Promise.race([
    all.then(() => "done" as const),
    ws.done.then(() => "gone" as const),
  ]);
  if (outcome === "gone") { for (const c of conns) closeQuietly(c, log); }
  await all;
  if (!ws.closed) await ws.close(CloseCode.Normal);
  await demux.catch(() => {});
}
