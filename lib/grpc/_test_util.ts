/**
 * Test helpers: an in-memory socket pair and a hand-driven HTTP/2 client that writes
 * exactly the frames a test asks for (valid or not) and reads the server's frames back.
 *
 * @module
 */
import type { ByteConn } from "./_h2_connection.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  ErrorCode,
  Flag,
  type Frame,
  FrameReader,
  FrameType,
  FrameWriter,
  PREFACE,
} from "./_h2_frame.ts";
import { encodeBlock, HpackDecoder } from "./_hpack.ts";
import { messagePrefix } from "./_message.ts";

/** One end of an in-memory byte pipe. */
class PipeEnd implements ByteConn {
  readonly #chunks: Uint8Array[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;
  peer!: PipeEnd;

  deliver(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
    this.#wake();
  }

  hangup(): void {
    this.#closed = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) return null;
      await new Promise<void>((r) => (this.#waiter = r));
    }
    const c = this.#chunks[0]!;
    const n = Math.min(c.length, p.length);
    p.set(c.subarray(0, n));
    if (n === c.length) this.#chunks.shift();
    else this.#chunks[0] = c.subarray(n);
    return n;
  }

  // deno-lint-ignore require-await
  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new Deno.errors.BrokenPipe("pipe closed");
    this.peer.deliver(p);
    return p.length;
  }

  close(): void {
    if (this.#closed) return;
    this.hangup();
    this.peer.hangup();
  }
}

/** Two connected in-memory sockets. */
export function memoryPipe(): [ByteConn, ByteConn] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A frame as the test client received it (payload copied). */
export interface Received {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

/** A decoded GOAWAY. */
export interface ReceivedGoaway {
  lastStreamId: number;
  code: ErrorCode;
  debug: string;
}

/** A hand-driven HTTP/2 client. */
export class RawClient {
  readonly conn: ByteConn;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  readonly hpack = new HpackDecoder({ maxTableSize: 4096, maxHeaderListSize: 1 << 20 });
  #eof = false;

  /** Wraps a connected socket. */
  constructor(conn: ByteConn) {
    this.conn = conn;
  }

  /** Writes raw bytes. */
  async send(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Writes frames built with a {@link FrameWriter}. */
  async frames(build: (w: FrameWriter) => void): Promise<void> {
    const w = new FrameWriter();
    build(w);
    await this.send(w.take());
  }

  /** The preface and an (empty, by default) SETTINGS frame. */
  async start(settings: Array<[number, number]> = []): Promise<void> {
    const w = new FrameWriter();
    w.settings(settings);
    const body = w.take();
    const out = new Uint8Array(PREFACE.length + body.length);
    out.set(PREFACE);
    out.set(body, PREFACE.length);
    await this.send(out);
  }

  /** HEADERS for a gRPC request to `path` (plus `extra` fields). */
  async request(
    streamId: number,
    path: string,
    opts: { extra?: Array<[string, string]>; endStream?: boolean; authority?: string } = {},
  ): Promise<void> {
    const block = encodeBlock([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", opts.authority ?? "localhost"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ...(opts.extra ?? []),
    ]);
    await this.frames((w) => w.headers(streamId, block, opts.endStream ?? false, 16_384));
  }

  /** DATA carrying one gRPC message. */
  async message(streamId: number, body: Uint8Array, endStream = true): Promise<void> {
    const prefix = messagePrefix(body.length);
    const payload = new Uint8Array(prefix.length + body.length);
    payload.set(prefix);
    payload.set(body, prefix.length);
    await this.frames((w) => w.data(streamId, endStream, payload));
  }

  /** The next frame from the server, or null once it closed the connection. */
  async next(): Promise<Received | null> {
    for (;;) {
      const f: Frame | undefined = this.#reader.next();
      if (f !== undefined) {
        return { type: f.type, flags: f.flags, streamId: f.streamId, payload: f.payload.slice() };
      }
      if (this.#eof) return null;
      let n: number | null;
      try {
        n = await this.conn.read(this.#reader.space());
      } catch {
        n = null;
      }
      if (n === null) this.#eof = true;
      else this.#reader.commit(n);
    }
  }

  /** Reads until a frame matches; throws if the connection ends first. */
  async until(pred: (f: Received) => boolean, what = "frame"): Promise<Received> {
    for (;;) {
      const f = await this.next();
      if (f === null) throw new Error(`connection closed while waiting for ${what}`);
      if (pred(f)) return f;
    }
  }

  /** Reads until GOAWAY and decodes it. */
  async goaway(): Promise<ReceivedGoaway> {
    const f = await this.until((f) => f.type === FrameType.GOAWAY, "GOAWAY");
    const v = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
    return {
      lastStreamId: v.getUint32(0) & 0x7fff_ffff,
      code: v.getUint32(4),
      debug: new TextDecoder().decode(f.payload.subarray(8)),
    };
  }

  /** Reads until the server closes the connection; returns what came before. */
  async drain(): Promise<Received[]> {
    const out: Received[] = [];
    for (let f = await this.next(); f !== null; f = await this.next()) out.push(f);
    return out;
  }

  /** Reads until RST_STREAM on `streamId`; returns its error code. */
  async rst(streamId: number): Promise<ErrorCode> {
    const f = await this.until(
      (f) => f.type === FrameType.RST_STREAM && f.streamId === streamId,
      `RST_STREAM on ${streamId}`,
    );
    return new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0);
  }

  /**
   * Reads one complete response on `streamId`: headers, messages, trailers (or a
   * Trailers-Only response), decoding field blocks as they come (HPACK state is shared).
   */
  async response(streamId: number): Promise<RawResponse> {
    const res: RawResponse = { headers: new Map(), trailers: new Map(), messages: [] };
    let body = new Uint8Array(0);
    let headersDone = false;
    for (;;) {
      const f = await this.until(
        (f) =>
          f.streamId === streamId &&
          (f.type === FrameType.HEADERS || f.type === FrameType.DATA ||
            f.type === FrameType.RST_STREAM),
        `response on stream ${streamId}`,
      );
      if (f.type === FrameType.RST_STREAM) {
        res.reset = new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(0);
        return res;
      }
      if (f.type === FrameType.DATA) {
        const next = new Uint8Array(body.length + f.payload.length);
        next.set(body);
        next.set(f.payload, body.length);
        body = next;
      } else {
        const decoded = this.hpack.decode(f.payload);
        const target = headersDone ? res.trailers : res.headers;
        for (let i = 0; i < decoded.fields.length; i += 2) {
          target.set(decoded.fields[i]!, decoded.fields[i + 1]!);
        }
        headersDone = true;
      }
      if (f.flags & Flag.END_STREAM) break;
    }
    // Trailers-Only: the one HEADERS frame holds the status.
    if (res.trailers.size === 0) res.trailers = res.headers;
    let off = 0;
    while (off + 5 <= body.length) {
      const len = new DataView(body.buffer, body.byteOffset + off + 1).getUint32(0);
      res.messages.push(body.slice(off + 5, off + 5 + len));
      off += 5 + len;
    }
    return res;
  }
}

/** A response as {@link RawClient.response} collects it. */
export interface RawResponse {
  headers: Map<string, string>;
  trailers: Map<string, string>;
  messages: Uint8Array[];
  /** Set when the stream was reset instead. */
  reset?: ErrorCode;
}
