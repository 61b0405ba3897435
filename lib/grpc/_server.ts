/**
 * The gRPC server: a method table, unix-socket listeners, and the glue from HTTP/2
 * streams to {@link Call}s. Generic: it knows nothing of the CRI.
 *
 * @module
 */
import { alreadyExists, failedPrecondition, invalidArgument, wrap } from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import {
  Call,
  type CallContext,
  type CallHost,
  type Codec,
  type MethodEntry,
  type StreamHandlerFn,
  trailersOnly,
} from "./_call.ts";
import { type ByteConn, H2Connection } from "./_h2_connection.ts";
import { DEFAULT_WINDOW, MAX_WINDOW } from "./_h2_frame.ts";
import { PREFIX_SIZE } from "./_message.ts";
import type { H2Stream, StreamListener } from "./_h2_stream.ts";
import type { RequestHead } from "./_h2_headers.ts";
import { Status, StatusError } from "./_status.ts";
import { parseTimeout } from "./_timeout.ts";

/** Server settings. */
export interface GrpcServerOptions {
  /** Largest request message accepted (after decompression); larger → RESOURCE_EXHAUSTED. */
  maxRecvMessageBytes: number;
  /** Largest response message sent; larger → RESOURCE_EXHAUSTED. */
  maxSendMessageBytes: number;
  /** Concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused. */
  maxConcurrentStreams: number;
  /** Calls in progress on the whole server; excess calls get RESOURCE_EXHAUSTED. */
  maxConcurrentCalls: number;
  /** Where the transport reports connection problems. */
  logger: Logger;
  /** Maps whatever a handler throws to a status; the CRI layer supplies the kind→code table. Default: StatusError → its code, else INTERNAL. */
  toStatus?: (err: unknown) => { code: Status; message: string };
  /** Called once per finished call (for the debug log line with duration and code). */
  onCallEnd?: (
    info: { method: string; code: Status; durationMs: number; message?: string },
  ) => void;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: larger request headers get HTTP 431. Default 64 KiB. */
  maxHeaderListBytes?: number;
  /** A connection that sends no HTTP/2 preface within this is closed. Default 10 s. */
  prefaceTimeoutMs?: number;
  /** Stream resets (client cancels, refused streams) a connection may cause per second before it is closed with ENHANCE_YOUR_CALM. Default 200. */
  maxResetsPerSecond?: number;
  /**
   * Request bytes one connection may hold beyond every stream's initial window: the pool a
   * message larger than the window reserves its window from. At least
   * `maxRecvMessageBytes` + 5; default: room for two such messages at once.
   */
  maxConnectionBufferBytes?: number;
}

/**
 * Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE): HTTP/2's default, so a client
 * never sends past it before our SETTINGS arrive. A request up to this size never waits for
 * a WINDOW_UPDATE; a larger one gets the rest of its window in one WINDOW_UPDATE as soon as
 * its first frame (with the message length) arrives. It also prices each stream: a
 * connection holds at most maxConcurrentStreams × this plus the pool.
 */
const STREAM_WINDOW = DEFAULT_WINDOW;

function defaultToStatus(err: unknown): { code: Status; message: string } {
  if (err instanceof StatusError) return { code: err.code, message: err.message };
  return { code: Status.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}

const IGNORE: StreamListener = { onData() {}, onEnd() {}, onAbort() {} };

/** A gRPC server on unix sockets, over our own HTTP/2. */
export class GrpcServer {
  readonly #opts: GrpcServerOptions;
  readonly #log: Logger;
  readonly #methods = new Map<string, MethodEntry>();
  readonly #services = new Set<string>();
  readonly #listeners = new Set<Deno.Listener>();
  readonly #accepting = new Set<Promise<void>>();
  readonly #connections = new Set<H2Connection>();
  readonly #calls = new Set<Call>();
  /** What calls see of the server. */
  readonly #host: CallHost;
  readonly #pool: number;
  #nextConnection = 1;
  #shuttingDown: Promise<void> | undefined;
  #idleWaiter: (() => void) | undefined;

  /** Creates a server; register methods, then {@link listen}. */
  constructor(opts: GrpcServerOptions) {
    for (
      const key of [
        "maxRecvMessageBytes",
        "maxSendMessageBytes",
        "maxConcurrentStreams",
        "maxConcurrentCalls",
      ] as const
    ) {
      const v = opts[key];
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw invalidArgument(`GrpcServerOptions.${key} must be a positive integer, got ${v}`);
      }
    }
    // A message's whole window must fit one HTTP/2 window (at most 2^31-1).
    const maxPool = MAX_WINDOW - STREAM_WINDOW;
    const minPool = opts.maxRecvMessageBytes + PREFIX_SIZE;
    if (minPool > maxPool) {
      throw invalidArgument(
        `GrpcServerOptions.maxRecvMessageBytes must be at most ${maxPool - PREFIX_SIZE} ` +
          `(an HTTP/2 window), got ${opts.maxRecvMessageBytes}`,
      );
    }
    const pool = opts.maxConnectionBufferBytes ?? Math.min(2 * minPool, maxPool);
    if (!Number.isSafeInteger(pool) || pool < minPool || pool > maxPool) {
      throw invalidArgument(
        `GrpcServerOptions.maxConnectionBufferBytes must be an integer from ` +
          `maxRecvMessageBytes + ${PREFIX_SIZE} (${minPool}) to ${maxPool}, got ${pool}`,
      );
    }
    this.#pool = pool;
    this.#opts = opts;
    this.#log = opts.logger;
    this.#host = {
      maxRecvMessageBytes: opts.maxRecvMessageBytes,
      maxSendMessageBytes: opts.maxSendMessageBytes,
      toStatus: opts.toStatus ?? defaultToStatus,
      ended: (call, code, message) => this.#ended(call, code, message),
    };
  }

  /** Registers a unary method at `path` (`/package.Service/Method`). */
  addUnary<Req, Res>(
    path: string,
    req: Codec<Req>,
    res: Codec<Res>,
    handler: (req: Req, ctx: CallContext) => Promise<Res>,
  ): void {
    this.#add({
      path,
      req,
      res: res as Codec<unknown>,
      unary: handler as (req: unknown, ctx: CallContext) => Promise<unknown>,
    });
  }

  /** Registers a server-streaming method; `send` resolves once the message is queued for the socket, so awaiting it applies backpressure. */
  addServerStream<Req, Res>(
    path: string,
    req: Codec<Req>,
    res: Codec<Res>,
    handler: (req: Req, ctx: CallContext, send: (msg: Res) => Promise<void>) => Promise<void>,
  ): void {
    this.#add({
      path,
      req,
      res: res as Codec<unknown>,
      stream: handler as StreamHandlerFn,
    });
  }

  #add(entry: MethodEntry): void {
    const m = /^\/([^/]+)\/([^/]+)$/.exec(entry.path);
    if (m === null) {
      throw invalidArgument(
        `method path ${JSON.stringify(entry.path)} is not /package.Service/Method`,
      );
    }
    if (this.#methods.has(entry.path)) {
      throw alreadyExists(`method ${entry.path} is already registered`);
    }
    this.#methods.set(entry.path, entry);
    this.#services.add(m[1]!);
  }

  /**
   * Listens on the unix socket `path` and serves in the background. The caller handles a
   * stale socket file, the mode and the ownership. (Deno unlinks the socket file when the
   * listener closes, i.e. on {@link shutdown}.)
   */
  // deno-lint-ignore require-await
  async listen(path: string): Promise<void> {
    if (this.#shuttingDown !== undefined) {
      throw failedPrecondition(`cannot listen on ${path}: the gRPC server is shut down`);
    }
    let listener: Deno.Listener;
    try {
      listener = Deno.listen({ transport: "unix", path });
    } catch (err) {
      throw wrap(err, `cannot listen on ${path}`);
    }
    this.#listeners.add(listener);
    const loop = this.#accept(listener, path);
    this.#accepting.add(loop);
    void loop.finally(() => this.#accepting.delete(loop));
  }

  async #accept(listener: Deno.Listener, path: string): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#shuttingDown !== undefined || err instanceof Deno.errors.BadResource) return;
        this.#log.warn("accept failed", { path, error: err });
        // EMFILE and friends: back off instead of spinning.
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.#serve(conn, `unix:${path}#${this.#nextConnection++}`);
    }
  }

  /**
   * Serves one already-connected socket, as if accepted: unit tests drive the server
   * over in-memory pipes this way.
   */
  serveConnection(conn: ByteConn, peer: string): void {
    this.#serve(conn, peer);
  }

  #serve(conn: ByteConn, peer: string): void {
    const h2 = new H2Connection(
      conn,
      {
        maxConcurrentStreams: this.#opts.maxConcurrentStreams,
        maxHeaderListSize: this.#opts.maxHeaderListBytes ?? 64 * 1024,
        initialWindowSize: STREAM_WINDOW,
        connectionBufferBytes: this.#pool,
        prefaceTimeoutMs: this.#opts.prefaceTimeoutMs ?? 10_000,
        maxResetsPerInterval: this.#opts.maxResetsPerSecond ?? 200,
        resetIntervalMs: 1_000,
        logger: this.#log.with({ peer }),
      },
      (stream, head) => this.#onStream(stream, head, peer),
    );
    this.#connections.add(h2);
    void h2.serve().finally(() => {
      this.#connections.delete(h2);
      this.#checkIdle();
    });
  }

  /** Request bytes held by all connections, received and not yet consumed by a handler. */
  get bufferedBytes(): number {
    let n = 0;
    for (const c of this.#connections) n += c.bufferedBytes;
    return n;
  }

  /** The most one connection can hold: every stream's initial window plus the pool. */
  get connectionBufferLimit(): number {
    return this.#opts.maxConcurrentStreams * STREAM_WINDOW + this.#pool;
  }

  #onStream(stream: H2Stream, head: RequestHead, peer: string): StreamListener {
    let contentType: string | undefined;
    let encoding: string | undefined;
    let timeout: string | undefined;
    const f = head.fields;
    for (let i = 0; i < f.length; i += 2) {
      switch (f[i]) {
        case "content-type":
          contentType = f[i + 1];
          break;
        case "grpc-encoding":
          encoding = f[i + 1];
          break;
        case "grpc-timeout":
          timeout = f[i + 1];
          break;
      }
    }
    const early = (code: Status, message: string, http = 200, ct = "application/grpc") => {
      stream.respond(trailersOnly(code, message, ct, http), true);
      this.#report(head.path, code, 0, message);
      return IGNORE;
    };
    // As grpc-go: HTTP-level mistakes get an HTTP status and an INTERNAL gRPC status.
    if (head.method !== "POST") {
      return early(Status.INTERNAL, `grpc: method ${head.method} not allowed, want POST`, 405);
    }
    if (
      contentType === undefined ||
      !(contentType === "application/grpc" || contentType.startsWith("application/grpc+") ||
        contentType.startsWith("application/grpc;"))
    ) {
      return early(
        Status.INTERNAL,
        `grpc: invalid content-type ${JSON.stringify(contentType ?? "")}`,
        415,
      );
    }
    const ct = contentType === "application/grpc+proto" ? contentType : "application/grpc";
    const method = this.#methods.get(head.path);
    if (method === undefined) {
      const m = /^\/([^/]+)\/([^/]+)$/.exec(head.path);
      const msg = m !== null && this.#services.has(m[1]!)
        ? `unknown method ${m[2]} for service ${m[1]}`
        : `unknown service ${m?.[1] ?? head.path}`;
      return early(Status.UNIMPLEMENTED, msg, 200, ct);
    }
    if (encoding !== undefined && encoding !== "identity" && encoding !== "gzip") {
      return early(
        Status.UNIMPLEMENTED,
        `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(encoding)}`,
        200,
        ct,
      );
    }
    let timeoutMs: number | undefined;
    if (timeout !== undefined) {
      timeoutMs = parseTimeout(timeout);
      if (timeoutMs === undefined) {
        return early(
          Status.INTERNAL,
          `grpc: malformed grpc-timeout ${JSON.stringify(timeout)}`,
          200,
          ct,
        );
      }
    }
    if (this.#calls.size >= this.#opts.maxConcurrentCalls) {
      return early(
        Status.RESOURCE_EXHAUSTED,
        `too many concurrent calls (limit ${this.#opts.maxConcurrentCalls})`,
        200,
        ct,
      );
    }
    const call = new Call(this.#host, stream, method, head, {
      contentType: ct,
      gzip: encoding === "gzip",
      timeoutMs,
      peer,
    });
    if (!call.finished) this.#calls.add(call);
    return call;
  }

  /** A call's status is decided. */
  #ended(call: Call, code: Status, message: string): void {
    this.#calls.delete(call);
    this.#report(call.method, code, performance.now() - call.startedAt, message);
    this.#checkIdle();
  }

  #report(method: string, code: Status, durationMs: number, message: string): void {
    if (this.#opts.onCallEnd === undefined) return;
    try {
      this.#opts.onCallEnd(
        message === "" ? { method, code, durationMs } : { method, code, durationMs, message },
      );
    } catch (err) {
      this.#log.error("onCallEnd failed", { method, error: err });
    }
  }

  #checkIdle(): void {
    if (this.#idleWaiter !== undefined && this.#calls.size === 0 && this.#connections.size === 0) {
      this.#idleWaiter();
    }
  }

  /**
   * Stops accepting, sends GOAWAY on every connection, lets calls in flight finish for up
   * to `graceMs`, then ends the rest with UNAVAILABLE (aborting their handlers' signals)
   * and closes every connection.
   */
  shutdown(graceMs: number): Promise<void> {
    this.#shuttingDown ??= this.#shutdown(graceMs);
    return this.#shuttingDown;
  }

  async #shutdown(graceMs: number): Promise<void> {
    for (const l of this.#listeners) {
      try {
        l.close();
      } catch {
        // already closed
      }
    }
    this.#listeners.clear();
    await Promise.all(this.#accepting);
    for (const c of this.#connections) c.drain();
    if (this.#calls.size > 0 || this.#connections.size > 0) {
      const idle = new Promise<void>((resolve) => (this.#idleWaiter = resolve));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([idle, grace]);
      clearTimeout(timer);
      this.#idleWaiter = undefined;
    }
    for (const call of [...this.#calls]) call.fail(Status.UNAVAILABLE, "server shutting down");
    const closing = [...this.#connections].map((c) => {
      c.close();
      return c.closed;
    });
    await Promise.all(closing);
  }
}
