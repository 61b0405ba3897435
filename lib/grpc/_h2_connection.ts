/**
 * The server side of one HTTP/2 connection (RFC 9113, cleartext with prior knowledge):
 * preface, SETTINGS, the stream state machine, flow control in both directions, PING,
 * GOAWAY, and the limits that keep a hostile or broken client from hurting anyone but
 * itself. Knows nothing of gRPC: each new stream is handed to a {@link StreamHandler}.
 *
 * Input is processed synchronously, a socket read at a time; output is gathered in one
 * buffer and written with one socket write per batch.
 *
 * Receive flow control bounds what one connection can make us hold. Request bytes count
 * as buffered from the DATA frame that carries them until the application consumes them
 * ({@link H2Stream.consume}); credit (WINDOW_UPDATE) follows consumption, never receipt.
 * Each stream may hold its initial window; beyond it, a stream whose application says it
 * needs more ({@link H2Stream.need}: a message larger than the window) reserves the rest
 * from the connection's pool, first come first served, and gets the whole of it at once, so
 * a large message flows without waiting on us and holders always finish: the pool never
 * deadlocks on half-granted messages. So a connection holds at most
 * `maxConcurrentStreams × initialWindowSize + connectionBufferBytes`; the connection window
 * (that plus {@link CONN_SLACK}) backs the stream windows up, and a client that sends past
 * either gets FLOW_CONTROL_ERROR (RFC 9113 §6.9).
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import { Budget } from "./_h2_budget.ts";
import {
  checkPing,
  connectionError,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  type Frame,
  FrameReader,
  FrameType,
  H2Error,
  MAX_WINDOW,
  parseGoaway,
  parseHeaders,
  parsePriority,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  Setting,
  streamError,
} from "./_h2_frame.ts";
import { checkTrailers, parseRequestHead, type RequestHead } from "./_h2_headers.ts";
import { DEFAULT_TABLE_SIZE, encodeBlock, type EncodedBlock, HpackDecoder } from "./_hpack.ts";
import { HIGH_WATER, Sender } from "./_h2_sender.ts";
import { type AbortReason, H2Stream, type StreamListener, type StreamOwner } from "./_h2_stream.ts";

/** The socket as the connection uses it; `Deno.Conn` is one. */
export interface ByteConn {
  /** Reads into `p`; null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves with how much. */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions. */
  close(): void;
}

/** Called for every accepted request stream. */
export type StreamHandler = (stream: H2Stream, head: RequestHead) => StreamListener;

/** Limits and sizes of a connection. */
export interface H2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE; larger requests get HTTP 431. */
  maxHeaderListSize: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: what a stream may hold before the application consumes. */
  initialWindowSize: number;
  /**
   * The pool all streams together may hold beyond their initial windows (for messages
   * larger than the window); at least the largest message the application accepts.
   */
  connectionBufferBytes: number;
  /** A connection that has not sent its preface and SETTINGS by then is closed. */
  prefaceTimeoutMs: number;
  /** At most this many stream resets (client RST_STREAM or refused streams)… */
  maxResetsPerInterval: number;
  /** …per this many milliseconds; beyond it: GOAWAY(ENHANCE_YOUR_CALM). */
  resetIntervalMs: number;
  /** Where connection errors are reported. */
  logger: Logger;
}

/** Control frames a client makes us queue while not reading its socket (PING/SETTINGS floods). */
const MAX_UNFLUSHED = HIGH_WATER + 1024 * 1024;
/** How long a closing connection waits to flush its last frames. */
const CLOSE_FLUSH_MS = 2_000;
/** How long a graceful drain waits for the PING that brackets in-flight streams. */
const DRAIN_PING_MS = 1_000;
/** How far an encoded header block (buffered until its last frame) may exceed the list limit. */
const BLOCK_SLACK = 16_384;
/**
 * Connection credit given back in batches of this size; the connection window is this much
 * larger than what the streams may hold, so a pending batch never blocks a granted stream.
 */
export const CONN_SLACK = 1 << 20;

const DRAIN_PING = new Uint8Array([0x73, 0x61, 0x75, 0x72, 0x6f, 0x70, 0x6f, 0x64]); // "sauropod"
const HEADERS_431 = encodeBlock([[":status", "431"]]);

/** The server side of one HTTP/2 connection. */
export class H2Connection implements StreamOwner {
  readonly #conn: ByteConn;
  readonly #opts: H2Options;
  readonly #handler: StreamHandler;
  readonly #log: Logger;
  readonly #reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  readonly #send: Sender;
  readonly #hpack: HpackDecoder;
  readonly #streams = new Map<number, H2Stream>();
  readonly #resets: Budget;

  #prefaceDone = false;
  #settingsReceived = false;
  /** Header block being assembled from HEADERS + CONTINUATION. */
  #block:
    | { streamId: number; flags: number; dependency?: number; parts: Uint8Array[]; size: number }
    | undefined;
  /** Highest stream id the client opened (or tried to). */
  #lastPeerStream = 0;
  /** Highest stream id handed to the application: GOAWAY's last-stream-id. */
  #lastProcessed = 0;
  #peerInitialWindow = DEFAULT_WINDOW;
  #connRecvWindow = DEFAULT_WINDOW;
  /** Bytes consumed (or discarded) not yet returned to the client's connection window. */
  #connUnacked = 0;
  /** Bytes of all streams handed to listeners and not yet consumed. */
  #buffered = 0;
  /** What is left of the pool for windows beyond the initial one. */
  #poolFree: number;
  /** Streams waiting for a reservation, in arrival order. */
  readonly #waiting: H2Stream[] = [];
  /** The stream whose listener is running: its window is settled once the listener returns. */
  #dispatching: H2Stream | undefined;

  #writing = false;
  #flushQueued = false;
  /** No more frames are read; close once output is flushed. */
  #closing = false;
  #destroyed = false;
  /** A GOAWAY with a real last-stream-id went out: newer streams are refused. */
  #goawaySent = false;
  #draining = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #closed: PromiseWithResolvers<void> = Promise.withResolvers<void>();

  /** Wraps an accepted socket; call {@link serve} to run it. */
  constructor(conn: ByteConn, opts: H2Options, handler: StreamHandler) {
    this.#conn = conn;
    this.#opts = opts;
    this.#handler = handler;
    this.#log = opts.logger;
    this.#hpack = new HpackDecoder({
      maxTableSize: DEFAULT_TABLE_SIZE,
      maxHeaderListSize: opts.maxHeaderListSize,
    });
    this.#resets = new Budget(opts.maxResetsPerInterval, opts.resetIntervalMs);
    this.#send = new Sender((s) => this.#localEnd(s));
    this.#poolFree = opts.connectionBufferBytes;
  }

  /** Request bytes received and not yet consumed, over all streams. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** The most {@link bufferedBytes} can reach: every stream's window plus the pool. */
  get bufferLimit(): number {
    return this.#opts.maxConcurrentStreams * this.#opts.initialWindowSize +
      this.#opts.connectionBufferBytes;
  }

  /** Reads and serves until the connection ends; never rejects. */
  async serve(): Promise<void> {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#log.warn("closing HTTP/2 connection: no client preface in time", {
        timeoutMs: this.#opts.prefaceTimeoutMs,
      });
      this.#destroy();
    }, this.#opts.prefaceTimeoutMs);
    // Our SETTINGS may go out before the client's preface arrives (RFC 9113 §3.4).
    this.#send.out.settings([
      [Setting.MAX_CONCURRENT_STREAMS, this.#opts.maxConcurrentStreams],
      [Setting.INITIAL_WINDOW_SIZE, this.#opts.initialWindowSize],
      [Setting.MAX_HEADER_LIST_SIZE, this.#opts.maxHeaderListSize],
      [Setting.ENABLE_PUSH, 0],
    ]);
    const connWindow = Math.min(MAX_WINDOW, this.bufferLimit + CONN_SLACK);
    if (connWindow > DEFAULT_WINDOW) {
      this.#send.out.windowUpdate(0, connWindow - DEFAULT_WINDOW);
      this.#connRecvWindow = connWindow;
    }
    this.#flush();
    try {
      while (!this.#closing && !this.#destroyed) {
        let n: number | null;
        try {
          n = await this.#conn.read(this.#reader.space());
        } catch {
          n = null; // reset by peer, or closed under us by destroy()
        }
        if (n === null) break;
        this.#reader.commit(n);
        this.#process();
        this.#flush();
      }
    } finally {
      if (!this.#closing) this.#destroy();
    }
    await this.#closed.promise;
  }

  /**
   * Starts a graceful close: GOAWAY(2^31-1) and a PING, then on the PING's ack (or after a
   * second) GOAWAY naming the last stream taken, so requests already in flight are served
   * and later ones are refused as retryable. The connection closes once its streams end.
   */
  drain(): void {
    if (this.#draining || this.#closing || this.#destroyed) return;
    this.#draining = true;
    if (!this.#prefaceDone) {
      this.#destroy();
      return;
    }
    this.#send.out.goaway(MAX_WINDOW, ErrorCode.NO_ERROR, "server shutting down");
    this.#send.out.ping(false, DRAIN_PING);
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#finalGoaway();
    }, DRAIN_PING_MS);
    this.#flush();
  }

  /**
   * Closes now: every open stream is aborted ("shutdown"), a GOAWAY goes out, and the
   * socket closes once that is flushed.
   */
  close(code: ErrorCode = ErrorCode.NO_ERROR, reason = "server shutting down"): void {
    if (this.#closing || this.#destroyed) return;
    this.#fail(new H2Error(code, reason));
    this.#abortAll("shutdown");
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  // ---- input ----

  #process(): void {
    try {
      if (!this.#prefaceDone) {
        const p = this.#reader.preface();
        if (p === "more") return;
        if (p === "bad") {
          throw connectionError(ErrorCode.PROTOCOL_ERROR, "invalid connection preface");
        }
        this.#prefaceDone = true;
      }
      let f: Frame | undefined;
      while (!this.#closing && (f = this.#reader.next()) !== undefined) {
        try {
          this.#frame(f);
        } catch (err) {
          if (!(err instanceof H2Error) || err.streamId === 0) throw err;
          this.#streamFailed(err);
        }
      }
      if (this.#send.out.length > MAX_UNFLUSHED) {
        throw connectionError(
          ErrorCode.ENHANCE_YOUR_CALM,
          `client is not reading: ${this.#send.out.length} bytes of responses queued`,
        );
      }
    } catch (err) {
      if (err instanceof H2Error) {
        this.#log.warn("closing HTTP/2 connection", {
          error: ErrorCode[err.code] ?? err.code,
          reason: err.message,
        });
        this.#fail(err);
      } else {
        this.#log.error("closing HTTP/2 connection after an internal error", { error: err });
        this.#fail(new H2Error(ErrorCode.INTERNAL_ERROR, "internal error"));
      }
      this.#abortAll("connection-lost");
    }
  }

  #frame(f: Frame): void {
    if (!this.#settingsReceived) {
      if (f.type !== FrameType.SETTINGS || (f.flags & Flag.ACK) !== 0) {
        throw connectionError(
          ErrorCode.PROTOCOL_ERROR,
          "first frame after the preface is not SETTINGS",
        );
      }
    }
    if (this.#block !== undefined && f.type !== FrameType.CONTINUATION) {
      throw connectionError(
        ErrorCode.PROTOCOL_ERROR,
        `frame type ${f.type} inside the header block of stream ${this.#block.streamId}`,
      );
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.#onData(f);
      case FrameType.HEADERS:
        return this.#onHeaders(f);
      case FrameType.PRIORITY:
        return this.#onPriority(f);
      case FrameType.RST_STREAM:
        return this.#onRstStream(f);
      case FrameType.SETTINGS:
        return this.#onSettings(f);
      case FrameType.PUSH_PROMISE:
        throw connectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case FrameType.PING:
        return this.#onPing(f);
      case FrameType.GOAWAY:
        return this.#onGoaway(f);
      case FrameType.WINDOW_UPDATE:
        return this.#onWindowUpdate(f);
      case FrameType.CONTINUATION:
        return this.#onContinuation(f);
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  /** A frame for a stream that is neither open nor known to be closed. */
  #idle(streamId: number): boolean {
    return streamId > this.#lastPeerStream || streamId % 2 === 0;
  }

  #onData(f: Frame): void {
    const id = f.streamId;
    if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    const len = f.payload.length;
    if (len > this.#connRecvWindow) {
      throw connectionError(
        ErrorCode.FLOW_CONTROL_ERROR,
        `DATA of ${len} bytes exceeds the connection window of ${this.#connRecvWindow}`,
      );
    }
    this.#connRecvWindow -= len;
    const s = this.#streams.get(id);
    if (s === undefined) {
      if (this.#idle(id)) {
        throw connectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${id}`);
      }
      // A stream we already closed: frames in flight are dropped, and their bytes still
      // count against the connection until given back (RFC 9113 §6.9).
      this.#release(len);
      return;
    }
    if (s.remoteDone) {
      this.#release(len);
      throw streamError(ErrorCode.STREAM_CLOSED, `DATA after END_STREAM on stream ${id}`, id);
    }
    if (len > s.recvWindow) {
      this.#release(len);
      throw streamError(
        ErrorCode.FLOW_CONTROL_ERROR,
        `DATA of ${len} bytes exceeds the window of stream ${id} (${s.recvWindow})`,
        id,
      );
    }
    s.recvWindow -= len;
    const data = unpadData(f);
    // Padding is consumed on arrival; the data is held until the application consumes it.
    if (data.length < len) this.#release(len - data.length);
    s.buffered += data.length;
    this.#buffered += data.length;
    s.received += data.length;
    if (s.contentLength !== undefined && s.received > s.contentLength) {
      throw streamError(
        ErrorCode.PROTOCOL_ERROR,
        `body exceeds content-length ${s.contentLength} on stream ${id}`,
        id,
      );
    }
    const end = (f.flags & Flag.END_STREAM) !== 0;
    if (data.length > 0) {
      if (s.listener === undefined) this.consume(s, data.length);
      else this.#dispatch(s, (l) => l.onData(data));
    }
    if (end) this.#remoteEnd(s);
    else this.#settle(s);
  }

  /** Runs a listener callback; window changes it makes are settled once, after it. */
  #dispatch(s: H2Stream, fn: (l: StreamListener) => void): void {
    const outer = this.#dispatching;
    this.#dispatching = s;
    try {
      fn(s.listener!);
    } finally {
      this.#dispatching = outer;
    }
  }

  /** @internal see {@link H2Stream.consume}. */
  consume(s: H2Stream, n: number): void {
    if (s.closed || n <= 0) return;
    if (n > s.buffered) {
      throw new RangeError(`stream ${s.id}: consumed ${n} bytes of ${s.buffered} held`);
    }
    s.buffered -= n;
    this.#buffered -= n;
    s.demand = 0;
    this.#release(n);
    if (this.#dispatching !== s) this.#settle(s);
  }

  /** @internal see {@link H2Stream.need}. */
  need(s: H2Stream, n: number): void {
    if (s.closed) return;
    s.demand = n > 0 ? s.buffered + n : 0;
    if (this.#dispatching !== s) this.#settle(s);
  }

  /**
   * Brings a stream's reservation and window in line with what it holds and needs: pool
   * credit it no longer needs goes back (never below what the client may still send),
   * a need beyond the initial window reserves from the pool (or queues for it), and the
   * window is topped up to the stream's credit when that is worth a frame or is needed.
   */
  #settle(s: H2Stream): void {
    if (s.closed) return;
    const w = this.#opts.initialWindowSize;
    // Once the client finished sending, nothing more arrives: only what is held counts.
    const outstanding = s.buffered + (s.remoteDone ? 0 : s.recvWindow);
    // A need beyond the whole pool is clamped to it, or it would block the queue forever.
    const want = s.remoteDone
      ? 0
      : Math.min(w + this.#opts.connectionBufferBytes, Math.max(w, s.demand));
    const keep = Math.max(0, Math.max(want, outstanding) - w);
    let freed = false;
    if (s.extra > keep) {
      this.#poolFree += s.extra - keep;
      s.extra = keep;
      freed = true;
    }
    const more = want - w - s.extra;
    if (more > 0) {
      if (!s.waiting && this.#waiting.length === 0 && more <= this.#poolFree) {
        this.#poolFree -= more;
        s.extra += more;
      } else if (!s.waiting) {
        s.waiting = true;
        this.#waiting.push(s);
      }
    } else if (s.waiting) {
      this.#unqueue(s);
    }
    if (!s.remoteDone) {
      const inc = w + s.extra - outstanding;
      // Small increments wait to be worth a frame, unless the listener waits on them.
      if (inc > 0 && (inc >= w / 2 || s.demand - s.buffered > s.recvWindow)) {
        this.#send.out.windowUpdate(s.id, inc);
        s.recvWindow += inc;
        this.#scheduleFlush();
      }
    }
    if (freed) this.#grantWaiting();
  }

  /** Hands freed pool credit to waiting streams, in order, while the first one fits. */
  #grantWaiting(): void {
    const w = this.#opts.initialWindowSize;
    while (this.#waiting.length > 0) {
      const s = this.#waiting[0]!;
      const want = Math.min(w + this.#opts.connectionBufferBytes, Math.max(w, s.demand));
      const more = Math.max(0, want - w - s.extra);
      if (more > this.#poolFree) return;
      this.#waiting.shift();
      s.waiting = false;
      this.#poolFree -= more;
      s.extra += more;
      this.#settle(s);
    }
  }

  #unqueue(s: H2Stream): void {
    s.waiting = false;
    const i = this.#waiting.indexOf(s);
    if (i >= 0) this.#waiting.splice(i, 1);
  }

  /** Bytes no longer held: returned to the client's connection window in batches. */
  #release(n: number): void {
    this.#connUnacked += n;
    if (this.#connUnacked >= CONN_SLACK) {
      this.#send.out.windowUpdate(0, this.#connUnacked);
      this.#connRecvWindow += this.#connUnacked;
      this.#connUnacked = 0;
      this.#scheduleFlush();
    }
  }

  #onHeaders(f: Frame): void {
    const id = f.streamId;
    if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
    const { block, dependency } = parseHeaders(f.flags, f.payload, id);
    if (f.flags & Flag.END_HEADERS) {
      this.#onFieldBlock(id, f.flags, block, dependency);
      return;
    }
    this.#checkBlockSize(block.length, id);
    // Copied: the reader's buffer is reused before the CONTINUATION frames arrive.
    this.#block = { streamId: id, flags: f.flags, parts: [block.slice()], size: block.length };
    if (dependency !== undefined) this.#block.dependency = dependency;
  }

  #onContinuation(f: Frame): void {
    const b = this.#block;
    if (b === undefined || b.streamId !== f.streamId) {
      throw connectionError(
        ErrorCode.PROTOCOL_ERROR,
        `CONTINUATION on stream ${f.streamId} without a header block in progress`,
      );
    }
    b.size += f.payload.length;
    this.#checkBlockSize(b.size, b.streamId);
    b.parts.push(f.payload.slice());
    if (!(f.flags & Flag.END_HEADERS)) return;
    this.#block = undefined;
    const block = new Uint8Array(b.size);
    let off = 0;
    for (const p of b.parts) {
      block.set(p, off);
      off += p.length;
    }
    this.#onFieldBlock(b.streamId, b.flags, block, b.dependency);
  }

  #checkBlockSize(size: number, streamId: number): void {
    // A header block we cannot decode until its end must be buffered; without a cap,
    // endless CONTINUATION frames exhaust memory (CVE-2024-27316 and kin).
    const max = this.#opts.maxHeaderListSize + BLOCK_SLACK;
    if (size > max) {
      throw connectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `header block of stream ${streamId} exceeds ${max} bytes`,
      );
    }
  }

  #onFieldBlock(id: number, flags: number, block: Uint8Array, dependency?: number): void {
    // Decode first, always: the HPACK table must follow every block, even refused ones.
    const decoded = this.#hpack.decode(block);
    const endStream = (flags & Flag.END_STREAM) !== 0;
    const existing = this.#streams.get(id);
    if (existing !== undefined) {
      // A second field block: trailers.
      if (existing.remoteDone) {
        throw streamError(ErrorCode.STREAM_CLOSED, `HEADERS after END_STREAM on stream ${id}`, id);
      }
      if (!endStream) {
        throw streamError(
          ErrorCode.PROTOCOL_ERROR,
          `trailers without END_STREAM on stream ${id}`,
          id,
        );
      }
      if (decoded.oversized) {
        throw streamError(ErrorCode.ENHANCE_YOUR_CALM, `oversized trailers on stream ${id}`, id);
      }
      checkTrailers(decoded.fields, id);
      this.#remoteEnd(existing);
      return;
    }
    if (id % 2 === 0) {
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `client opened even-numbered stream ${id}`);
    }
    if (id <= this.#lastPeerStream) return; // late frames of a stream we already closed
    this.#lastPeerStream = id;
    if (dependency === id) {
      throw streamError(ErrorCode.PROTOCOL_ERROR, `stream ${id} depends on itself`, id);
    }
    if (this.#goawaySent || this.#streams.size >= this.#opts.maxConcurrentStreams) {
      this.#send.out.rstStream(id, ErrorCode.REFUSED_STREAM);
      this.#countReset();
      return;
    }
    if (decoded.oversized) {
      this.#send.headers(id, HEADERS_431, true);
      if (!endStream) this.#send.out.rstStream(id, ErrorCode.NO_ERROR);
      this.#countReset();
      return;
    }
    const head = parseRequestHead(decoded.fields, id);
    const s = new H2Stream(this, id, this.#opts.initialWindowSize, this.#peerInitialWindow);
    s.contentLength = head.contentLength;
    s.remoteDone = endStream;
    if (endStream && head.contentLength !== undefined && head.contentLength !== 0) {
      throw streamError(
        ErrorCode.PROTOCOL_ERROR,
        `empty body with content-length on stream ${id}`,
        id,
      );
    }
    this.#streams.set(id, s);
    this.#lastProcessed = id;
    s.listener = this.#handler(s, head);
    if (endStream && !s.closed) this.#dispatch(s, (l) => l.onEnd());
  }

  #remoteEnd(s: H2Stream): void {
    if (s.contentLength !== undefined && s.received !== s.contentLength) {
      throw streamError(
        ErrorCode.PROTOCOL_ERROR,
        `body of ${s.received} bytes differs from content-length ${s.contentLength} on stream ${s.id}`,
        s.id,
      );
    }
    s.remoteDone = true;
    if (s.localDone) {
      this.#forget(s);
      return;
    }
    if (s.listener !== undefined) this.#dispatch(s, (l) => l.onEnd());
    this.#settle(s);
  }

  #onPriority(f: Frame): void {
    if (f.streamId === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
    if (parsePriority(f.payload, f.streamId) === f.streamId) {
      throw streamError(
        ErrorCode.PROTOCOL_ERROR,
        `stream ${f.streamId} depends on itself`,
        f.streamId,
      );
    }
    // Prioritisation is deprecated (RFC 9113 §5.3.2): valid PRIORITY frames are ignored.
  }

  #onRstStream(f: Frame): void {
    const id = f.streamId;
    if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    const code = parseRstStream(f.payload);
    const s = this.#streams.get(id);
    if (s === undefined) {
      if (this.#idle(id)) {
        throw connectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
      }
      return;
    }
    this.#forget(s);
    s.listener?.onAbort("reset", code);
    this.#countReset();
  }

  #countReset(): void {
    if (!this.#resets.take()) {
      throw connectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `more than ${this.#opts.maxResetsPerInterval} stream resets in ${this.#opts.resetIntervalMs} ms`,
      );
    }
  }

  #onSettings(f: Frame): void {
    if (f.streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (f.flags & Flag.ACK) {
      if (f.payload.length !== 0) {
        throw connectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      }
      return;
    }
    for (const [id, value] of parseSettings(f.payload)) {
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        const delta = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const s of this.#streams.values()) {
          s.sendWindow += delta;
          if (s.sendWindow > MAX_WINDOW) {
            throw connectionError(
              ErrorCode.FLOW_CONTROL_ERROR,
              `SETTINGS_INITIAL_WINDOW_SIZE overflows the window of stream ${s.id}`,
            );
          }
        }
      } else if (id === Setting.MAX_FRAME_SIZE) {
        this.#send.maxFrameSize = value;
      }
      // HEADER_TABLE_SIZE needs nothing: our first block sets our table to 0 anyway.
    }
    this.#send.out.settingsAck();
    if (!this.#settingsReceived) {
      this.#settingsReceived = true;
      this.#clearTimer();
    }
    this.#send.pump();
  }

  #onPing(f: Frame): void {
    if (f.streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream");
    checkPing(f.payload);
    if (f.flags & Flag.ACK) {
      if (this.#draining && equalBytes(f.payload, DRAIN_PING)) this.#finalGoaway();
      return;
    }
    this.#send.out.ping(true, f.payload);
  }

  #onGoaway(f: Frame): void {
    if (f.streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
    const g = parseGoaway(f.payload);
    if (g.code !== ErrorCode.NO_ERROR) {
      this.#log.debug("client sent GOAWAY", { error: ErrorCode[g.code] ?? g.code });
    }
    // A client sends no new streams after GOAWAY; the ones it has finish normally and
    // it closes the socket.
  }

  #onWindowUpdate(f: Frame): void {
    const id = f.streamId;
    const inc = parseWindowUpdate(f.payload, id);
    if (id === 0) {
      this.#send.connWindow += inc;
      if (this.#send.connWindow > MAX_WINDOW) {
        throw connectionError(
          ErrorCode.FLOW_CONTROL_ERROR,
          "connection send window exceeds 2^31-1",
        );
      }
    } else {
      const s = this.#streams.get(id);
      if (s === undefined) {
        if (this.#idle(id)) {
          throw connectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
        }
        return;
      }
      s.sendWindow += inc;
      if (s.sendWindow > MAX_WINDOW) {
        throw streamError(
          ErrorCode.FLOW_CONTROL_ERROR,
          `window of stream ${id} exceeds 2^31-1`,
          id,
        );
      }
    }
    this.#send.pump();
  }

  /** A stream error: reset that stream and tell its listener. */
  #streamFailed(err: H2Error): void {
    const id = err.streamId;
    if (this.#idle(id) && !this.#streams.has(id)) {
      // RST_STREAM must not be sent on an idle stream: escalate.
      throw connectionError(err.code, err.message);
    }
    this.#log.debug("resetting HTTP/2 stream", {
      stream: id,
      error: ErrorCode[err.code] ?? err.code,
      reason: err.message,
    });
    this.#send.out.rstStream(id, err.code);
    const s = this.#streams.get(id);
    if (s !== undefined) {
      this.#forget(s);
      s.listener?.onAbort("protocol-error", err.code);
    }
  }

  // ---- output ----

  /** @internal see {@link H2Stream.respond}. */
  respond(s: H2Stream, block: EncodedBlock, endStream: boolean): void {
    if (s.done || this.#destroyed) return;
    if (s.headersSent) throw new TypeError(`stream ${s.id}: response headers sent twice`);
    s.headersSent = true;
    this.#send.headers(s.id, block, endStream);
    if (endStream) this.#localEnd(s);
    this.#scheduleFlush();
  }

  /** @internal see {@link H2Stream.write}. */
  write(
    s: H2Stream,
    a: Uint8Array,
    b: Uint8Array | undefined,
    done: ((err?: Error) => void) | undefined,
  ): void {
    if (s.done || this.#destroyed) {
      done?.(new Error(`stream ${s.id} is closed`));
      return;
    }
    this.#send.enqueue(s, a, b, done);
    this.#scheduleFlush();
  }

  /** @internal see {@link H2Stream.end}. */
  end(s: H2Stream, trailers: EncodedBlock): void {
    if (s.done || this.#destroyed || s.trailers !== undefined) return;
    if (s.pendingBytes > 0) {
      s.trailers = trailers;
      return;
    }
    this.#send.headers(s.id, trailers, true);
    this.#localEnd(s);
    this.#scheduleFlush();
  }

  /** @internal see {@link H2Stream.reset}. */
  reset(s: H2Stream, code: ErrorCode): void {
    if (s.done || this.#destroyed) return;
    this.#send.out.rstStream(s.id, code);
    this.#forget(s);
    this.#scheduleFlush();
  }

  /** Our side finished: the stream closes now if the client's did too, else we reset it. */
  #localEnd(s: H2Stream): void {
    s.localDone = true;
    if (!s.remoteDone) {
      // RFC 9113 §8.1: a complete response ends the client's upload with NO_ERROR.
      this.#send.out.rstStream(s.id, ErrorCode.NO_ERROR);
    }
    this.#forget(s);
  }

  /** Removes a stream from the table, failing any DATA still queued on it. */
  #forget(s: H2Stream): void {
    if (s.closed) return;
    s.closed = true;
    this.#streams.delete(s.id);
    // What the stream held is dropped with it: its bytes and its reservation go back.
    if (s.buffered > 0) {
      this.#buffered -= s.buffered;
      this.#release(s.buffered);
      s.buffered = 0;
    }
    if (s.waiting) this.#unqueue(s);
    if (s.extra > 0) {
      this.#poolFree += s.extra;
      s.extra = 0;
      this.#grantWaiting();
    }
    this.#send.drop(s, new Error(`stream ${s.id} closed before its data was sent`));
    if (this.#goawaySent && this.#streams.size === 0) this.#closeWhenFlushed();
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#writing) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#writing || this.#destroyed) return;
    if (this.#send.out.length === 0) {
      if (this.#closing) this.#destroy();
      return;
    }
    this.#writing = true;
    void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    try {
      while (this.#send.out.length > 0 && !this.#destroyed) {
        const buf = this.#send.out.take();
        let off = 0;
        while (off < buf.length) off += await this.#conn.write(buf.subarray(off));
        this.#send.pump();
      }
    } catch {
      // The peer went away; reads will see it too.
      this.#writing = false;
      this.#abortAll("connection-lost");
      this.#destroy();
      return;
    }
    // Cleared in the same turn that found the buffer empty: output queued from here on
    // starts a new flush.
    this.#writing = false;
    if (this.#closing) this.#destroy();
  }

  // ---- closing ----

  #finalGoaway(): void {
    if (this.#goawaySent || this.#destroyed || this.#closing) return;
    this.#clearTimer();
    this.#goawaySent = true;
    this.#send.out.goaway(this.#lastProcessed, ErrorCode.NO_ERROR, "server shutting down");
    if (this.#streams.size === 0) this.#closeWhenFlushed();
    this.#scheduleFlush();
  }

  #closeWhenFlushed(): void {
    if (this.#closing) return;
    this.#closing = true;
    // A client that does not read must not hold the connection open forever.
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined;
      this.#destroy();
    }, CLOSE_FLUSH_MS);
    this.#scheduleFlush();
  }

  /** Connection error: GOAWAY with the code, then close once flushed. */
  #fail(err: H2Error): void {
    if (this.#destroyed || this.#closing) return;
    this.#send.out.goaway(this.#lastProcessed, err.code, err.message);
    this.#goawaySent = true;
    this.#closeWhenFlushed();
  }

  #abortAll(reason: AbortReason): void {
    const streams = [...this.#streams.values()];
    for (const s of streams) {
      this.#forget(s);
      try {
        s.listener?.onAbort(reason);
      } catch (err) {
        this.#log.error("stream abort handler failed", { stream: s.id, error: err });
      }
    }
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#closing = true;
    this.#clearTimer();
    if (this.#closeTimer !== undefined) {
      clearTimeout(this.#closeTimer);
      this.#closeTimer = undefined;
    }
    this.#abortAll("connection-lost");
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#closed.resolve();
  }
}

function unpadData(f: Frame): Uint8Array {
  if (!(f.flags & Flag.PADDED)) return f.payload;
  const p = f.payload;
  if (p.length < 1) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `padded DATA on stream ${f.streamId} too short`,
    );
  }
  if (p[0]! > p.length - 1) {
    throw connectionError(
      ErrorCode.PROTOCOL_ERROR,
      `padding of ${p[0]} bytes exceeds the DATA frame on stream ${f.streamId}`,
    );
  }
  return p.subarray(1, p.length - p[0]!);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
