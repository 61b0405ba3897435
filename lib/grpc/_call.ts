/**
 * One gRPC call on one HTTP/2 stream: collects the request message, runs the handler
 * with an AbortSignal, and writes the response and the status (grpc/grpc
 * `doc/PROTOCOL-HTTP2.md`).
 *
 * @module
 */
import type { AbortReason, H2Stream, StreamListener } from "./_h2_stream.ts";
import { ErrorCode } from "./_h2_frame.ts";
import type { RequestHead } from "./_h2_headers.ts";
import { encodeBlock, type EncodedBlock } from "./_hpack.ts";
import { gunzip } from "./_gzip.ts";
import { messagePrefix, MessageReader, type RawMessage } from "./_message.ts";
import { percentEncode, Status, StatusError } from "./_status.ts";

/** How a message type crosses the wire. */
export interface Codec<T> {
  /** Serialises a message. */
  encode(msg: T): Uint8Array;
  /** Parses a message; throws on malformed input. */
  decode(bytes: Uint8Array): T;
}

/** What a handler knows about its call. */
export interface CallContext {
  /** The full method path, `/package.Service/Method`. */
  readonly method: string;
  /** Aborted when the client cancels, the deadline passes, the connection drops, or the server shuts down; the reason is a {@link StatusError}. */
  readonly signal: AbortSignal;
  /** The client's deadline in epoch milliseconds, when it sent `grpc-timeout`. */
  readonly deadline?: number;
  /** Request metadata (custom headers), names lowercase; repeated names joined with ",". */
  readonly metadata: ReadonlyMap<string, string>;
  /** Who called: `unix:<socket path>#<connection number>`. */
  readonly peer: string;
}

/** A registered method. */
export interface MethodEntry {
  readonly path: string;
  readonly req: Codec<unknown>;
  readonly res: Codec<unknown>;
  readonly unary?: (req: unknown, ctx: CallContext) => Promise<unknown>;
  readonly stream?: StreamHandlerFn;
}

/** A server-streaming handler, type-erased. */
export type StreamHandlerFn = (
  req: unknown,
  ctx: CallContext,
  send: (msg: unknown) => Promise<void>,
) => Promise<void>;

/** What a call needs from its server. */
export interface CallHost {
  readonly maxRecvMessageBytes: number;
  readonly maxSendMessageBytes: number;
  toStatus(err: unknown): { code: Status; message: string };
  /** Called exactly once per call, when its status is decided. */
  ended(call: Call, code: Status, message: string): void;
}

/** Headers a call needs to know beyond the path. */
export interface CallStart {
  contentType: string;
  gzip: boolean;
  timeoutMs: number | undefined;
  peer: string;
}

/** Longest grpc-message we send: error texts can be long (runc stderr), headers should not be. */
const MAX_MESSAGE_CHARS = 8 * 1024;
/** setTimeout cannot wait longer; later deadlines simply never fire. */
const MAX_TIMER_MS = 0x7fff_ffff;
/** Metadata that is transport, not application data. */
const RESERVED = new Set([
  "content-type",
  "te",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
  "content-length",
]);

const ACCEPT_ENCODING = "identity,gzip";
const RESPONSE_HEADERS = new Map<string, EncodedBlock>();
const OK_TRAILERS = encodeBlock([["grpc-status", "0"]]);

function responseHeaders(contentType: string): EncodedBlock {
  let block = RESPONSE_HEADERS.get(contentType);
  if (block === undefined) {
    block = encodeBlock([
      [":status", "200"],
      ["content-type", contentType],
      ["grpc-accept-encoding", ACCEPT_ENCODING],
    ]);
    RESPONSE_HEADERS.set(contentType, block);
  }
  return block;
}

function statusFields(code: Status, message: string): Array<[string, string]> {
  const fields: Array<[string, string]> = [["grpc-status", String(code)]];
  if (message !== "") {
    const text = message.length > MAX_MESSAGE_CHARS
      ? message.slice(0, MAX_MESSAGE_CHARS) + "…"
      : message;
    fields.push(["grpc-message", percentEncode(text)]);
  }
  return fields;
}

/**
 * A Trailers-Only response (the whole response in one HEADERS frame), for calls that end
 * before any message: `:status` (200 unless an HTTP-level problem), content-type, status.
 */
export function trailersOnly(
  code: Status,
  message: string,
  contentType = "application/grpc",
  httpStatus = 200,
): EncodedBlock {
  const fields: Array<[string, string]> = [
    [":status", String(httpStatus)],
    ["content-type", contentType],
  ];
  if (code === Status.UNIMPLEMENTED) fields.push(["grpc-accept-encoding", ACCEPT_ENCODING]);
  return encodeBlock([...fields, ...statusFields(code, message)]);
}

class Context implements CallContext {
  readonly method: string;
  readonly signal: AbortSignal;
  readonly deadline?: number;
  readonly peer: string;
  readonly #fields: string[];
  #metadata: Map<string, string> | undefined;

  constructor(
    method: string,
    signal: AbortSignal,
    fields: string[],
    peer: string,
    deadline?: number,
  ) {
    this.method = method;
    this.signal = signal;
    this.peer = peer;
    this.#fields = fields;
    if (deadline !== undefined) this.deadline = deadline;
  }

  get metadata(): ReadonlyMap<string, string> {
    if (this.#metadata === undefined) {
      const m = new Map<string, string>();
      const f = this.#fields;
      for (let i = 0; i < f.length; i += 2) {
        const name = f[i]!;
        if (RESERVED.has(name)) continue;
        const prev = m.get(name);
        m.set(name, prev === undefined ? f[i + 1]! : `${prev},${f[i + 1]!}`);
      }
      this.#metadata = m;
    }
    return this.#metadata;
  }
}

/** A call in progress: the stream's listener. */
export class Call implements StreamListener {
  readonly #host: CallHost;
  readonly #stream: H2Stream;
  readonly #method: MethodEntry;
  readonly #start: CallStart;
  readonly #ac = new AbortController();
  readonly #reader: MessageReader;
  readonly #ctx: Context;
  #request: RawMessage | undefined;
  /**
   * Request bytes the stream handed us that we still hold (the message in progress, or the
   * whole request until the handler takes it): they count against the connection's budget
   * until consumed, so a client cannot park messages here for free.
   */
  #held = 0;
  #finished = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the call began, for its duration. */
  readonly startedAt: number = performance.now();

  /** Starts a call; the deadline runs from here. */
  constructor(
    host: CallHost,
    stream: H2Stream,
    method: MethodEntry,
    head: RequestHead,
    start: CallStart,
  ) {
    this.#host = host;
    this.#stream = stream;
    this.#method = method;
    this.#start = start;
    this.#reader = new MessageReader(host.maxRecvMessageBytes, (m) => this.#onMessage(m));
    const timeout = start.timeoutMs;
    this.#ctx = new Context(
      method.path,
      this.#ac.signal,
      head.fields,
      start.peer,
      timeout === undefined ? undefined : Date.now() + timeout,
    );
    if (timeout !== undefined && timeout <= MAX_TIMER_MS) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.fail(Status.DEADLINE_EXCEEDED, "deadline exceeded");
      }, timeout);
    }
  }

  /** The method path. */
  get method(): string {
    return this.#method.path;
  }

  /** True once the status is decided. */
  get finished(): boolean {
    return this.#finished;
  }

  onData(chunk: Uint8Array): void {
    if (this.#finished) {
      this.#stream.consume(chunk.length);
      return;
    }
    this.#held += chunk.length;
    if (this.#request !== undefined) {
      // A unary request has one message: the first byte of a second already breaks it.
      this.#request = undefined;
      this.#cardinality("more");
      return;
    }
    try {
      this.#reader.push(chunk);
    } catch (err) {
      const s = err instanceof StatusError ? err : new StatusError(Status.INTERNAL, String(err));
      this.fail(s.code, s.message);
      return;
    }
    if (this.#finished) return;
    if (this.#request !== undefined && this.#reader.buffered > 0) {
      this.#request = undefined;
      this.#cardinality("more");
      return;
    }
    const missing = this.#reader.missing;
    if (missing > 0) this.#stream.need(missing);
  }

  #onMessage(m: RawMessage): void {
    if (this.#finished) return;
    if (this.#request === undefined) {
      this.#request = m;
      return;
    }
    // No need to read on: a second message already breaks the call.
    this.#request = undefined;
    this.#cardinality("more");
  }

  #cardinality(got: string): void {
    // "Cardinality violation" is UNIMPLEMENTED in grpc/grpc doc/statuscodes.md.
    this.fail(
      Status.UNIMPLEMENTED,
      `grpc: ${this.method} takes exactly one request message, got ${got}`,
    );
  }

  onEnd(): void {
    if (this.#finished) return;
    if (this.#reader.partial) {
      this.fail(Status.INTERNAL, `grpc: request to ${this.method} ended inside a message`);
      return;
    }
    if (this.#request === undefined) {
      this.#cardinality("none");
      return;
    }
    const m = this.#request;
    this.#request = undefined;
    // The handler takes the message: its bytes are the handler's now, not the transport's.
    this.#release();
    void this.#run(m);
  }

  onAbort(reason: AbortReason, code?: ErrorCode): void {
    if (this.#finished) return;
    const message = reason === "reset"
      ? `call cancelled by the client (RST_STREAM ${ErrorCode[code ?? 0] ?? code})`
      : reason === "shutdown"
      ? "server shutting down"
      : reason === "protocol-error"
      ? `stream reset after a protocol error (${ErrorCode[code ?? 0] ?? code})`
      : "connection closed";
    this.#finish(reason === "shutdown" ? Status.UNAVAILABLE : Status.CANCELLED, message, false);
  }

  async #run(m: RawMessage): Promise<void> {
    let bytes = m.data;
    if (m.compressed) {
      if (!this.#start.gzip) {
        this.fail(
          Status.INTERNAL,
          "grpc: compressed flag set with identity or empty grpc-encoding",
        );
        return;
      }
      try {
        bytes = await gunzip(bytes, this.#host.maxRecvMessageBytes);
      } catch (err) {
        const s = err instanceof StatusError ? err : new StatusError(Status.INTERNAL, String(err));
        this.fail(s.code, s.message);
        return;
      }
      if (this.#finished) return;
    }
    let req: unknown;
    try {
      req = this.#method.req.decode(bytes);
    } catch (err) {
      this.fail(
        Status.INVALID_ARGUMENT,
        `cannot decode the request of ${this.method}: ${err instanceof Error ? err.message : err}`,
      );
      return;
    }
    try {
      if (this.#method.unary !== undefined) {
        const res = await this.#method.unary(req, this.#ctx);
        this.#reply(res);
      } else {
        await this.#method.stream!(req, this.#ctx, (msg) => this.#send(msg));
        this.#finish(Status.OK, "", true);
      }
    } catch (err) {
      if (this.#finished) return;
      let s: { code: Status; message: string };
      try {
        s = this.#host.toStatus(err);
      } catch {
        s = { code: Status.INTERNAL, message: String(err) };
      }
      this.#finish(s.code === Status.OK ? Status.UNKNOWN : s.code, s.message, true);
    }
  }

  #encode(msg: unknown): Uint8Array {
    let bytes: Uint8Array;
    try {
      bytes = this.#method.res.encode(msg);
    } catch (err) {
      // A codec may refuse a message with a status of its own (the CRI's oversized lists).
      if (err instanceof StatusError) throw err;
      throw new StatusError(
        Status.INTERNAL,
        `cannot encode the response of ${this.method}: ${err instanceof Error ? err.message : err}`,
      );
    }
    if (bytes.length > this.#host.maxSendMessageBytes) {
      throw new StatusError(
        Status.RESOURCE_EXHAUSTED,
        `grpc: trying to send message larger than max (${bytes.length} vs. ${this.#host.maxSendMessageBytes})`,
      );
    }
    return bytes;
  }

  #reply(res: unknown): void {
    if (this.#finished) return;
    const bytes = this.#encode(res);
    this.#stream.respond(responseHeaders(this.#start.contentType), false);
    this.#stream.write(messagePrefix(bytes.length), bytes);
    this.#finish(Status.OK, "", true);
  }

  #send(msg: unknown): Promise<void> {
    if (this.#finished) return Promise.reject(this.#endedError());
    let bytes: Uint8Array;
    try {
      bytes = this.#encode(msg);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.#stream.headersSent) {
      this.#stream.respond(responseHeaders(this.#start.contentType), false);
    }
    return new Promise((resolve, reject) => {
      this.#stream.write(messagePrefix(bytes.length), bytes, (err) => {
        if (err === undefined) resolve();
        else reject(this.#endedError());
      });
    });
  }

  #endedError(): unknown {
    return this.#ac.signal.reason ??
      new StatusError(Status.CANCELLED, `${this.method} already ended`);
  }

  /** Gives the stream back every request byte the call holds. */
  #release(): void {
    const n = this.#held;
    this.#held = 0;
    this.#stream.consume(n);
  }

  /** Ends the call with an error status, aborting the handler's signal. */
  fail(code: Status, message: string): void {
    this.#finish(code, message, true);
  }

  #finish(code: Status, message: string, write: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#request = undefined;
    this.#reader.reset();
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const s = this.#stream;
    if (write && !s.done) {
      if (!s.headersSent) {
        s.respond(
          code === Status.OK
            ? encodeBlock([
              [":status", "200"],
              ["content-type", this.#start.contentType],
              ["grpc-status", "0"],
            ])
            : trailersOnly(code, message, this.#start.contentType),
          true,
        );
      } else {
        s.end(code === Status.OK ? OK_TRAILERS : encodeBlock(statusFields(code, message)));
      }
    }
    // After the response: a stream it closed already dropped what we held.
    this.#release();
    if (code !== Status.OK && !this.#ac.signal.aborted) {
      this.#ac.abort(new StatusError(code, message));
    }
    this.#host.ended(this, code, message);
  }
}
