/**
 * A SPDY/3.1 session over a byte transport, for either end: the streaming server accepts
 * the streams a client opens; the test client opens them.
 *
 * Compatibility notes, all about moby/spdystream (the SPDY library of the kubelet,
 * client-go, crictl and kubectl, i.e. of every client of this server):
 * - It never sends WINDOW_UPDATE and ignores the ones it receives, so nothing here waits
 *   for the peer's window: a sender that honoured the 64 KiB default window would stall
 *   after 64 KiB. Backpressure comes from TCP instead: when a stream's reader falls behind,
 *   the read loop stops reading the socket (as spdystream itself does).
 *   WINDOW_UPDATEs are still sent for what we receive, so a strict SPDY/3.1 peer is not
 *   starved.
 * - Data frames may arrive for streams it has already reset; they are dropped quietly.
 * - Unknown control frames are ignored, as §2.2.1 requires.
 *
 * @module
 */
import { type Logger, nullLogger } from "../../log/mod.ts";
import type { BufferedReader, Transport } from "../io/mod.ts";
import { UnexpectedEof } from "../io/mod.ts";
import { IdleTimer } from "../io/idle.ts";
import { HeaderDeflater, HeaderInflater } from "./_compression.ts";
import {
  decodeHeaderBlock,
  encodeFrame,
  encodeHeaderBlock,
  type Frame,
  GoAwayStatus,
  type HeaderMap,
  readFrame,
  RstStatus,
  SpdyProtocolError,
} from "./_frames.ts";

/** Largest DATA payload we send in one frame; larger writes are split. */
const MAX_DATA_CHUNK = 64 * 1024;
/** Bytes buffered per stream before the read loop waits for the stream's reader. */
const STREAM_BUFFER = 256 * 1024;
/** Received bytes acknowledged with WINDOW_UPDATE in batches of this size. */
const WINDOW_UPDATE_BATCH = 32 * 1024;
/** Frames larger than this are refused (spdystream writes at most 32 KiB at a time). */
const MAX_FRAME = 16 * 1024 * 1024;
/** Streams one connection may have open at once. */
const MAX_STREAMS = 1024;

/** A write on a stream the peer has reset, or after the session ended. */
export class SpdyStreamClosed extends Error {
  /** Builds the error for stream `id`. */
  constructor(id: number, why: string) {
    super(`SPDY stream ${id}: ${why}`);
    this.name = "SpdyStreamClosed";
  }
}

/** Options of a {@link SpdySession}. */
export interface SpdySessionOptions {
  /** Which end we are: it fixes stream-id and ping-id parity. */
  readonly role: "server" | "client";
  /**
   * Called for every stream the peer opens (its headers decoded). The callee must
   * {@link SpdyStream.reply} to accept it or {@link SpdyStream.reset} to refuse it.
   * Without a handler, peer-opened streams are refused.
   */
  readonly onStream?: (stream: SpdyStream) => void;
  /** Close the session when no frame has moved either way for this long. 0: never. */
  readonly idleTimeoutMs?: number;
  /** Where protocol trouble is reported. */
  readonly logger?: Logger;
}

/** One side of a SPDY connection. Call {@link start} to begin reading. */
export class SpdySession {
  readonly #reader: BufferedReader;
  readonly #transport: Transport;
  readonly #role: "server" | "client";
  readonly #onStream: ((stream: SpdyStream) => void) | undefined;
  readonly #log: Logger;
  readonly #deflater = new HeaderDeflater();
  readonly #inflater = new HeaderInflater();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #pings = new Map<number, () => void>();
  readonly #idle: IdleTimer;
  readonly #done = Promise.withResolvers<void>();
  #nextStreamId: number;
  #nextPingId: number;
  #lastPeerStreamId = 0;
  #sentGoAway = false;
  #peerGoneAway = false;
  #closed = false;
  #started = false;
  #unacked = 0;
  #closeReason = "connection closed";

  /** A session over `transport`, reading through `reader` (which may hold bytes already). */
  constructor(reader: BufferedReader, transport: Transport, opts: SpdySessionOptions) {
    this.#reader = reader;
    this.#transport = transport;
    this.#role = opts.role;
    this.#onStream = opts.onStream;
    this.#log = opts.logger ?? nullLogger;
    this.#idle = new IdleTimer(opts.idleTimeoutMs ?? 0, () => {
      this.#log.info("closing idle SPDY connection", { idleTimeoutMs: this.#idle.ms });
      this.#teardown("idle timeout");
    });
    this.#nextStreamId = opts.role === "client" ? 1 : 2;
    this.#nextPingId = opts.role === "client" ? 1 : 2;
  }

  /** Resolves once the connection is gone (peer closed, error, idle timeout or close()). */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** True once the session has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Why the session ended (for logs): "connection closed", "idle timeout", … */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** Starts the read loop (and the idle timer). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#idle.start();
    this.#readLoop();
  }

  /** Opens a stream (client side) and waits for the peer's SYN_REPLY. */
  async openStream(
    headers: Record<string, string>,
    opts: { fin?: boolean } = {},
  ): Promise<SpdyStream> {
    if (this.#closed) throw new SpdyStreamClosed(this.#nextStreamId, "session closed");
    if (this.#peerGoneAway || this.#sentGoAway) {
      throw new SpdyStreamClosed(this.#nextStreamId, "session is going away");
    }
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const map: HeaderMap = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), [v]]));
    const stream = new SpdyStream(this, id, map, { remoteFin: false, localFin: opts.fin ?? false });
    this.#streams.set(id, stream);
    const block = this.#deflater.compress(encodeHeaderBlock(map));
    await this.send(encodeFrame({
      kind: "syn_stream",
      streamId: id,
      associatedId: 0,
      priority: 0,
      fin: opts.fin ?? false,
      unidirectional: false,
      block,
    }));
    await stream.replied;
    return stream;
  }

  /** Sends a PING and resolves when the peer echoes it. */
  ping(): Promise<void> {
    const id = this.#nextPingId;
    // Ping ids keep their parity (odd: client, even: server) and wrap below 2^31.
    this.#nextPingId += 2;
    if (this.#nextPingId > 0x7fffffff) this.#nextPingId -= 0x7ffffffe;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#pings.set(id, resolve);
    this.send(encodeFrame({ kind: "ping", id })).catch(() => {});
    return promise;
  }

  /** Sends GOAWAY: no new streams; existing ones may finish. */
  async goAway(status: number = GoAwayStatus.Ok): Promise<void> {
    if (this.#sentGoAway || this.#closed) return;
    this.#sentGoAway = true;
    await this.send(
      encodeFrame({ kind: "goaway", lastGoodStreamId: this.#lastPeerStreamId, status }),
    )
      .catch(() => {});
  }

  /**
   * Ends the session politely: GOAWAY, finish our sending side (so nothing we sent is lost
   * to a reset), then wait up to `graceMs` for the peer to close before closing ourselves.
   */
  async shutdown(graceMs: number): Promise<void> {
    if (this.#closed) return;
    await this.goAway();
    await this.#transport.closeWrite().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([this.done, timeout]);
    clearTimeout(timer);
    this.close("shut down");
  }

  /** Closes the connection now; every stream ends. */
  close(reason = "closed locally"): void {
    if (this.#closed) return;
    this.#teardown(reason);
  }

  /** @internal Queues bytes on the transport; rejects once the connection is broken. */
  send(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new SpdyStreamClosed(0, "session closed"));
    this.#idle.touch();
    return this.#transport.write(bytes).catch((err) => {
      this.#teardown("write failed");
      throw err;
    });
  }

  /** @internal Sends SYN_REPLY for a peer-opened stream. */
  sendReply(id: number, fin: boolean): Promise<void> {
    const block = this.#deflater.compress(encodeHeaderBlock([]));
    return this.send(encodeFrame({ kind: "syn_reply", streamId: id, fin, block }));
  }

  /** @internal Sends RST_STREAM and forgets the stream. */
  sendReset(id: number, status: number): void {
    this.#streams.delete(id);
    if (this.#closed) return;
    this.send(encodeFrame({ kind: "rst_stream", streamId: id, status })).catch(() => {});
  }

  /** @internal Called when both directions of a stream have finished. */
  forget(id: number): void {
    this.#streams.delete(id);
  }

  async #readLoop(): Promise<void> {
    let reason = "connection closed by peer";
    try {
      for (;;) {
        const frame = await readFrame(this.#reader, MAX_FRAME);
        if (frame === null) break;
        this.#idle.touch();
        await this.#handle(frame);
        if (this.#closed) return;
      }
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof SpdyProtocolError) {
        reason = `protocol error: ${err.message}`;
        this.#log.warn("SPDY protocol error, closing connection", { error: err.message });
        await this.goAway(GoAwayStatus.ProtocolError);
      } else if (err instanceof UnexpectedEof) {
        reason = err.message;
      } else {
        reason = `read failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    this.#teardown(reason);
  }

  async #handle(f: Frame): Promise<void> {
    switch (f.kind) {
      case "data":
        return await this.#onData(f.streamId, f.data, f.fin);
      case "syn_stream": {
        // Always inflate, even for a stream we refuse: the zlib state spans the connection.
        const headers = decodeHeaderBlock(await this.#inflater.inflate(f.block));
        return this.#onSynStream(f.streamId, headers, f.fin, f.unidirectional);
      }
      case "syn_reply": {
        await this.#inflater.inflate(f.block);
        const s = this.#streams.get(f.streamId);
        if (!s) return;
        s.onReply();
        if (f.fin) s.onRemoteFin();
        return;
      }
      case "headers": {
        await this.#inflater.inflate(f.block);
        if (f.fin) this.#streams.get(f.streamId)?.onRemoteFin();
        return;
      }
      case "rst_stream": {
        const s = this.#streams.get(f.streamId);
        this.#streams.delete(f.streamId);
        s?.onReset(f.status);
        return;
      }
      case "ping": {
        const peerInitiated = (f.id % 2 === 1) === (this.#role === "server");
        if (peerInitiated) {
          this.send(encodeFrame({ kind: "ping", id: f.id })).catch(() => {});
        } else {
          const resolve = this.#pings.get(f.id);
          this.#pings.delete(f.id);
          resolve?.();
        }
        return;
      }
      case "goaway":
        this.#peerGoneAway = true;
        return;
      case "settings":
      case "window_update":
      case "unknown":
        return;
    }
  }

  #onSynStream(id: number, headers: HeaderMap, fin: boolean, unidirectional: boolean): void {
    const fromClient = id % 2 === 1;
    if (fromClient !== (this.#role === "server") || id <= this.#lastPeerStreamId) {
      // §2.3.2: an id that goes backwards or has the wrong parity is a protocol error on
      // that stream (spdystream answers the same way).
      this.#log.debug("refusing SPDY stream with an invalid id", { streamId: id });
      this.sendReset(id, RstStatus.ProtocolError);
      return;
    }
    this.#lastPeerStreamId = id;
    if (this.#sentGoAway || !this.#onStream) {
      this.sendReset(id, RstStatus.RefusedStream);
      return;
    }
    if (this.#streams.size >= MAX_STREAMS) {
      this.#log.warn("refusing SPDY stream: too many open streams", { limit: MAX_STREAMS });
      this.sendReset(id, RstStatus.RefusedStream);
      return;
    }
    const stream = new SpdyStream(this, id, headers, { remoteFin: fin, localFin: unidirectional });
    this.#streams.set(id, stream);
    stream.onReply();
    this.#onStream(stream);
  }

  async #onData(id: number, data: Uint8Array, fin: boolean): Promise<void> {
    if (data.byteLength > 0) {
      this.#unacked += data.byteLength;
      if (this.#unacked >= WINDOW_UPDATE_BATCH) {
        const delta = this.#unacked;
        this.#unacked = 0;
        this.send(encodeFrame({ kind: "window_update", streamId: 0, delta })).catch(() => {});
        if (this.#streams.has(id)) {
          this.send(encodeFrame({ kind: "window_update", streamId: id, delta })).catch(() => {});
        }
      }
    }
    const s = this.#streams.get(id);
    if (!s) return;
    if (data.byteLength > 0) await s.onData(data);
    if (fin) s.onRemoteFin();
  }

  #teardown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#idle.stop();
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const s of streams) s.onSessionClosed(reason);
    for (const resolve of this.#pings.values()) resolve();
    this.#pings.clear();
    this.#inflater.close();
    this.#transport.close();
    this.#done.resolve();
  }
}

/** One stream of a {@link SpdySession}. */
export class SpdyStream {
  /** The stream id (odd: opened by the client). */
  readonly id: number;
  /** The headers the opener sent, names lower-case. */
  readonly headers: HeaderMap;
  /** Data from the peer; ends at the peer's FIN, a reset, or the end of the session. */
  readonly readable: ReadableStream<Uint8Array>;
  readonly #session: SpdySession;
  readonly #replied = Promise.withResolvers<void>();
  readonly #finished = Promise.withResolvers<void>();
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #space: (() => void) | undefined;
  #readClosed = false;
  #readCanceled = false;
  #localFin: boolean;
  #remoteFin: boolean;
  #resetStatus: number | undefined;
  #failure: string | undefined;
  #isReplied = false;

  /** @internal Streams are made by the session. */
  constructor(
    session: SpdySession,
    id: number,
    headers: HeaderMap,
    state: { remoteFin: boolean; localFin: boolean },
  ) {
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.#localFin = state.localFin;
    this.#remoteFin = state.remoteFin;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        const s = this.#space;
        this.#space = undefined;
        s?.();
      },
      cancel: () => {
        this.#readCanceled = true;
        const s = this.#space;
        this.#space = undefined;
        s?.();
      },
    }, { highWaterMark: STREAM_BUFFER, size: (c) => c.byteLength });
    if (this.#remoteFin) this.#closeReadable();
    // A rejected wait must not surface as an unhandled rejection when nobody awaits it.
    this.#replied.promise.catch(() => {});
  }

  /** The first value of header `name` (case-insensitive), if present. */
  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  /** @internal Resolves when the peer has replied (client side). */
  get replied(): Promise<void> {
    return this.#replied.promise;
  }

  /** Resolves when both directions are finished, the stream is reset, or the session ends. */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** The RST_STREAM status if the peer reset the stream. */
  get resetStatus(): number | undefined {
    return this.#resetStatus;
  }

  /** True once we have sent FIN or the stream can no longer be written. */
  get writeClosed(): boolean {
    return this.#localFin || this.#failure !== undefined;
  }

  /** Accepts a peer-opened stream (SYN_REPLY). */
  reply(): Promise<void> {
    return this.#session.sendReply(this.id, false);
  }

  /** Sends `data` (split into frames). Rejects if the stream or session is closed. */
  async write(data: Uint8Array): Promise<void> {
    this.#checkWritable();
    for (let off = 0; off < data.byteLength; off += MAX_DATA_CHUNK) {
      this.#checkWritable();
      const chunk = data.subarray(off, Math.min(data.byteLength, off + MAX_DATA_CHUNK));
      await this.#session.send(
        encodeFrame({ kind: "data", streamId: this.id, fin: false, data: chunk }),
      );
    }
  }

  /** Half-closes our direction (FIN). Idempotent; a no-op on a dead stream. */
  async end(): Promise<void> {
    if (this.#localFin || this.#failure !== undefined) return;
    this.#localFin = true;
    try {
      await this.#session.send(
        encodeFrame({ kind: "data", streamId: this.id, fin: true, data: new Uint8Array(0) }),
      );
    } catch {
      // The session is gone; the peer has nothing left to read anyway.
    }
    this.#maybeFinished();
  }

  /** Aborts both directions (RST_STREAM). */
  reset(status: number = RstStatus.Cancel): void {
    if (this.#failure !== undefined) return;
    this.#failure = "reset locally";
    this.#session.sendReset(this.id, status);
    this.#closeReadable();
    this.#finished.resolve();
  }

  #checkWritable(): void {
    if (this.#failure !== undefined) throw new SpdyStreamClosed(this.id, this.#failure);
    if (this.#localFin) throw new SpdyStreamClosed(this.id, "write after FIN");
  }

  #closeReadable(): void {
    if (this.#readClosed) return;
    this.#readClosed = true;
    try {
      this.#controller.close();
    } catch {
      // Already closed or errored by a cancel.
    }
    const s = this.#space;
    this.#space = undefined;
    s?.();
  }

  #maybeFinished(): void {
    if (this.#localFin && this.#remoteFin) {
      this.#session.forget(this.id);
      this.#finished.resolve();
    }
  }

  /** @internal */
  onReply(): void {
    if (this.#isReplied) return;
    this.#isReplied = true;
    this.#replied.resolve();
  }

  /** @internal Queues peer data, waiting while the reader is behind. */
  async onData(data: Uint8Array): Promise<void> {
    if (this.#remoteFin || this.#readClosed) {
      // Data after FIN: §2.2.2 says STREAM_ALREADY_CLOSED.
      if (this.#remoteFin) this.reset(RstStatus.StreamAlreadyClosed);
      return;
    }
    if (this.#readCanceled) return;
    this.#controller.enqueue(data);
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.#readCanceled && !this.#readClosed) {
      await new Promise<void>((resolve) => (this.#space = resolve));
    }
  }

  /** @internal */
  onRemoteFin(): void {
    if (this.#remoteFin) return;
    this.#remoteFin = true;
    this.#closeReadable();
    this.#maybeFinished();
  }

  /** @internal */
  onReset(status: number): void {
    this.#resetStatus = status;
    this.#failure = `reset by peer (status ${status})`;
    this.#replied.reject(new SpdyStreamClosed(this.id, this.#failure));
    this.#closeReadable();
    this.#finished.resolve();
  }

  /** @internal */
  onSessionClosed(reason: string): void {
    this.#failure ??= reason;
    this.#replied.reject(new SpdyStreamClosed(this.id, reason));
    this.#closeReadable();
    this.#finished.resolve();
  }
}
