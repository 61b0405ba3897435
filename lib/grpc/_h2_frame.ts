/**
 * HTTP/2 frames (RFC 9113 §4 and §6): constants, the error type, a reader that cuts frames
 * out of a byte stream without copying, and a writer that appends frames to one growable
 * buffer so a batch of frames leaves in a single socket write.
 *
 * @module
 */

/** Frame types (RFC 9113 §6). */
export enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

/** Frame flags; the same bit means different things on different frame types. */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7). */
export enum ErrorCode {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  INTERNAL_ERROR = 0x2,
  FLOW_CONTROL_ERROR = 0x3,
  SETTINGS_TIMEOUT = 0x4,
  STREAM_CLOSED = 0x5,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
  CONNECT_ERROR = 0xa,
  ENHANCE_YOUR_CALM = 0xb,
  INADEQUATE_SECURITY = 0xc,
  HTTP_1_1_REQUIRED = 0xd,
}

/** SETTINGS parameters (RFC 9113 §6.5.2). */
export enum Setting {
  HEADER_TABLE_SIZE = 0x1,
  ENABLE_PUSH = 0x2,
  MAX_CONCURRENT_STREAMS = 0x3,
  INITIAL_WINDOW_SIZE = 0x4,
  MAX_FRAME_SIZE = 0x5,
  MAX_HEADER_LIST_SIZE = 0x6,
}

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** Bytes in a frame header. */
export const FRAME_HEADER_SIZE = 9;
/** SETTINGS_MAX_FRAME_SIZE before (and unless) a peer changes it. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
/** The largest SETTINGS_MAX_FRAME_SIZE a peer may announce. */
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215;
/** Flow-control windows start here (RFC 9113 §6.9.2). */
export const DEFAULT_WINDOW = 65_535;
/** No flow-control window may exceed 2^31-1. */
export const MAX_WINDOW = 0x7fff_ffff;

/**
 * A protocol violation. With `streamId` 0 it is a connection error (GOAWAY and close);
 * otherwise a stream error (RST_STREAM on that stream only).
 */
export class H2Error extends Error {
  /** Creates an error carrying the code that goes on the wire. */
  constructor(readonly code: ErrorCode, message: string, readonly streamId = 0) {
    super(message);
    this.name = "H2Error";
  }
}

/** A connection error: the whole connection ends with GOAWAY(`code`). */
export const connectionError = (code: ErrorCode, message: string): H2Error =>
  new H2Error(code, message, 0);
/** A stream error: that stream ends with RST_STREAM(`code`). */
export const streamError = (code: ErrorCode, message: string, streamId: number): H2Error =>
  new H2Error(code, message, streamId);

/** One parsed frame; the reader reuses a single instance, so copy what must outlive it. */
export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  /** A view into the reader's buffer, valid until the next {@link FrameReader.space} call. */
  payload: Uint8Array;
}

/**
 * Cuts frames out of the bytes read from a socket. The socket reads straight into
 * {@link space}, and payloads are views of that buffer, so a frame is never copied on the
 * way in.
 */
export class FrameReader {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  /** The largest frame payload we accept (our SETTINGS_MAX_FRAME_SIZE). */
  readonly maxFrameSize: number;
  readonly #frame: Frame = { type: 0, flags: 0, streamId: 0, payload: new Uint8Array(0) };

  /** A reader for frames up to `maxFrameSize` payload bytes. */
  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
    // Room for a few full frames so one read usually carries many.
    this.#buf = new Uint8Array(Math.max(65_536, 4 * (maxFrameSize + FRAME_HEADER_SIZE)));
  }

  /** Bytes received but not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * The free region to read into. Moves unconsumed bytes to the front first, which
   * invalidates payload views handed out earlier.
   */
  space(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#buf.length - this.#end < FRAME_HEADER_SIZE + this.maxFrameSize) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    return this.#buf.subarray(this.#end);
  }

  /** Records that `n` bytes were read into the region {@link space} returned. */
  commit(n: number): void {
    this.#end += n;
  }

  /** Copies `bytes` in (tests and callers without a socket). */
  push(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      const room = this.space();
      const n = Math.min(room.length, bytes.length - off);
      room.set(bytes.subarray(off, off + n));
      this.commit(n);
      off += n;
    }
  }

  /**
   * Consumes the client preface as far as it has arrived: "ok" once all of it matched,
   * "more" while a matching prefix is buffered, "bad" at the first wrong byte.
   */
  preface(): "ok" | "more" | "bad" {
    const n = Math.min(this.buffered, PREFACE.length);
    for (let i = 0; i < n; i++) {
      if (this.#buf[this.#start + i] !== PREFACE[i]) return "bad";
    }
    if (n < PREFACE.length) return "more";
    this.#start += PREFACE.length;
    return "ok";
  }

  /**
   * The next complete frame, or undefined when more bytes are needed. Throws a
   * FRAME_SIZE_ERROR connection error as soon as a header announces an oversized frame.
   */
  next(): Frame | undefined {
    if (this.#end - this.#start < FRAME_HEADER_SIZE) return undefined;
    const b = this.#buf;
    const s = this.#start;
    const length = (b[s]! << 16) | (b[s + 1]! << 8) | b[s + 2]!;
    if (length > this.maxFrameSize) {
      throw connectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameSize}`,
      );
    }
    if (this.#end - s < FRAME_HEADER_SIZE + length) return undefined;
    const f = this.#frame;
    f.type = b[s + 3]!;
    f.flags = b[s + 4]!;
    // The reserved high bit is ignored on receipt (RFC 9113 §4.1).
    f.streamId = ((b[s + 5]! & 0x7f) << 24 | (b[s + 6]! << 16) | (b[s + 7]! << 8) | b[s + 8]!) >>>
      0;
    f.payload = b.subarray(s + FRAME_HEADER_SIZE, s + FRAME_HEADER_SIZE + length);
    this.#start = s + FRAME_HEADER_SIZE + length;
    return f;
  }
}

/**
 * Removes padding (RFC 9113 §6.1): returns the content between the Pad Length field (and
 * `skip` more bytes, e.g. a HEADERS priority block) and the padding.
 */
export function unpad(flags: number, payload: Uint8Array, streamId: number, skip = 0): Uint8Array {
  if (!(flags & Flag.PADDED)) {
    if (payload.length < skip) {
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, `frame on stream ${streamId} too short`);
    }
    return payload.subarray(skip);
  }
  if (payload.length < 1 + skip) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `padded frame on stream ${streamId} too short`,
    );
  }
  const pad = payload[0]!;
  if (pad > payload.length - 1 - skip) {
    // "If the length of the padding is the length of the frame payload or greater, the
    // recipient MUST treat this as a connection error of type PROTOCOL_ERROR."
    throw connectionError(
      ErrorCode.PROTOCOL_ERROR,
      `padding of ${pad} bytes exceeds the frame on stream ${streamId}`,
    );
  }
  return payload.subarray(1 + skip, payload.length - pad);
}

/** A HEADERS payload split into its parts. */
export interface HeadersPayload {
  /** The field block fragment. */
  block: Uint8Array;
  /** The stream this one depends on, when the PRIORITY flag is set. */
  dependency?: number;
}

/** Parses a HEADERS payload: padding and the deprecated priority block removed. */
export function parseHeaders(flags: number, payload: Uint8Array, streamId: number): HeadersPayload {
  if (!(flags & Flag.PRIORITY)) return { block: unpad(flags, payload, streamId) };
  const off = flags & Flag.PADDED ? 1 : 0;
  const block = unpad(flags, payload, streamId, 5);
  const dependency = readUint31(payload, off);
  return { block, dependency };
}

/** Parses a PRIORITY payload; returns the stream depended on. */
export function parsePriority(payload: Uint8Array, streamId: number): number {
  if (payload.length !== 5) {
    throw streamError(
      ErrorCode.FRAME_SIZE_ERROR,
      `PRIORITY frame of ${payload.length} bytes, want 5`,
      streamId,
    );
  }
  return readUint31(payload, 0);
}

/** Parses an RST_STREAM payload; returns the error code. */
export function parseRstStream(payload: Uint8Array): number {
  if (payload.length !== 4) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `RST_STREAM frame of ${payload.length} bytes, want 4`,
    );
  }
  return readUint32(payload, 0);
}

/** Parses a SETTINGS payload into (identifier, value) pairs, validating known ones. */
export function parseSettings(payload: Uint8Array): Array<[number, number]> {
  if (payload.length % 6 !== 0) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `SETTINGS frame of ${payload.length} bytes is not a multiple of 6`,
    );
  }
  const out: Array<[number, number]> = [];
  for (let off = 0; off < payload.length; off += 6) {
    const id = (payload[off]! << 8) | payload[off + 1]!;
    const value = readUint32(payload, off + 2);
    switch (id) {
      case Setting.ENABLE_PUSH:
        if (value > 1) {
          throw connectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
        }
        break;
      case Setting.INITIAL_WINDOW_SIZE:
        if (value > MAX_WINDOW) {
          throw connectionError(
            ErrorCode.FLOW_CONTROL_ERROR,
            `SETTINGS_INITIAL_WINDOW_SIZE ${value} exceeds 2^31-1`,
          );
        }
        break;
      case Setting.MAX_FRAME_SIZE:
        if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE) {
          throw connectionError(
            ErrorCode.PROTOCOL_ERROR,
            `SETTINGS_MAX_FRAME_SIZE ${value} outside 16384..16777215`,
          );
        }
        break;
    }
    out.push([id, value]);
  }
  return out;
}

/** Parses a WINDOW_UPDATE payload; returns the increment. */
export function parseWindowUpdate(payload: Uint8Array, streamId: number): number {
  if (payload.length !== 4) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `WINDOW_UPDATE frame of ${payload.length} bytes, want 4`,
    );
  }
  const inc = readUint31(payload, 0);
  if (inc === 0) {
    const msg = `WINDOW_UPDATE with a zero increment on stream ${streamId}`;
    throw streamId === 0
      ? connectionError(ErrorCode.PROTOCOL_ERROR, msg)
      : streamError(ErrorCode.PROTOCOL_ERROR, msg, streamId);
  }
  return inc;
}

/** A parsed GOAWAY payload. */
export interface Goaway {
  lastStreamId: number;
  code: number;
  debug: Uint8Array;
}

/** Parses a GOAWAY payload. */
export function parseGoaway(payload: Uint8Array): Goaway {
  if (payload.length < 8) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `GOAWAY frame of ${payload.length} bytes, want at least 8`,
    );
  }
  return {
    lastStreamId: readUint31(payload, 0),
    code: readUint32(payload, 4),
    debug: payload.subarray(8),
  };
}

/** Checks a PING payload's size. */
export function checkPing(payload: Uint8Array): void {
  if (payload.length !== 8) {
    throw connectionError(
      ErrorCode.FRAME_SIZE_ERROR,
      `PING frame of ${payload.length} bytes, want 8`,
    );
  }
}

function readUint32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function readUint31(b: Uint8Array, off: number): number {
  return readUint32(b, off) & MAX_WINDOW;
}

/**
 * Appends frames to a growable buffer. {@link take} hands the bytes over for one socket
 * write and starts a fresh buffer (the previous one may still be in flight).
 */
export class FrameWriter {
  #buf: Uint8Array;
  #len = 0;

  /** A writer whose buffer starts at `initial` bytes and grows as needed. */
  constructor(initial = 16_384) {
    this.#buf = new Uint8Array(initial);
  }

  /** Bytes waiting to be taken. */
  get length(): number {
    return this.#len;
  }

  /** The written bytes; the writer continues in a new buffer. */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#len);
    this.#buf = new Uint8Array(Math.max(16_384, Math.min(this.#buf.length, 1 << 20)));
    this.#len = 0;
    return out;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #header(length: number, type: number, flags: number, streamId: number): void {
    this.#reserve(FRAME_HEADER_SIZE + length);
    const b = this.#buf;
    const o = this.#len;
    b[o] = length >>> 16;
    b[o + 1] = length >>> 8;
    b[o + 2] = length;
    b[o + 3] = type;
    b[o + 4] = flags;
    b[o + 5] = (streamId >>> 24) & 0x7f;
    b[o + 6] = streamId >>> 16;
    b[o + 7] = streamId >>> 8;
    b[o + 8] = streamId;
    this.#len = o + FRAME_HEADER_SIZE;
  }

  #bytes(src: Uint8Array): void {
    this.#buf.set(src, this.#len);
    this.#len += src.length;
  }

  #u32(v: number): void {
    const b = this.#buf;
    const o = this.#len;
    b[o] = v >>> 24;
    b[o + 1] = v >>> 16;
    b[o + 2] = v >>> 8;
    b[o + 3] = v;
    this.#len = o + 4;
  }

  /** Any frame, verbatim (tests use it to build malformed input). */
  frame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    this.#header(payload.length, type, flags, streamId);
    this.#bytes(payload);
  }

  /** One DATA frame. */
  data(streamId: number, endStream: boolean, payload: Uint8Array): void {
    this.dataHeader(streamId, payload.length, endStream);
    this.#bytes(payload);
  }

  /**
   * The header of a DATA frame whose `length` payload bytes follow through
   * {@link append}: lets a frame gather pieces (a gRPC prefix and part of a message)
   * with one copy each, straight into the outgoing buffer.
   */
  dataHeader(streamId: number, length: number, endStream: boolean): void {
    this.#header(length, FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId);
  }

  /** Appends raw payload bytes after {@link dataHeader}. */
  append(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#bytes(bytes);
  }

  /** A field block as HEADERS plus CONTINUATION frames no larger than `maxFrameSize`. */
  headers(streamId: number, block: Uint8Array, endStream: boolean, maxFrameSize: number): void {
    let off = Math.min(block.length, maxFrameSize);
    const es = endStream ? Flag.END_STREAM : 0;
    this.#header(
      off,
      FrameType.HEADERS,
      es | (off === block.length ? Flag.END_HEADERS : 0),
      streamId,
    );
    this.#bytes(block.subarray(0, off));
    while (off < block.length) {
      const n = Math.min(block.length - off, maxFrameSize);
      const last = off + n === block.length;
      this.#header(n, FrameType.CONTINUATION, last ? Flag.END_HEADERS : 0, streamId);
      this.#bytes(block.subarray(off, off + n));
      off += n;
    }
  }

  /** A SETTINGS frame with the given (identifier, value) pairs. */
  settings(pairs: ReadonlyArray<readonly [number, number]>): void {
    this.#header(pairs.length * 6, FrameType.SETTINGS, 0, 0);
    for (const [id, value] of pairs) {
      this.#buf[this.#len++] = id >>> 8;
      this.#buf[this.#len++] = id;
      this.#u32(value);
    }
  }

  /** Acknowledges the peer's SETTINGS. */
  settingsAck(): void {
    this.#header(0, FrameType.SETTINGS, Flag.ACK, 0);
  }

  /** A PING, or its acknowledgement echoing the peer's 8 bytes. */
  ping(ack: boolean, opaque: Uint8Array): void {
    this.#header(8, FrameType.PING, ack ? Flag.ACK : 0, 0);
    this.#bytes(opaque);
  }

  /** GOAWAY naming the last stream we processed, an error code and debug text. */
  goaway(lastStreamId: number, code: ErrorCode, debug = ""): void {
    const text = new TextEncoder().encode(debug);
    this.#header(8 + text.length, FrameType.GOAWAY, 0, 0);
    this.#u32(lastStreamId & MAX_WINDOW);
    this.#u32(code);
    this.#bytes(text);
  }

  /** Grants the peer `increment` more bytes on a stream (or the connection, stream 0). */
  windowUpdate(streamId: number, increment: number): void {
    this.#header(4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.#u32(increment & MAX_WINDOW);
  }

  /** Ends a stream abnormally. */
  rstStream(streamId: number, code: ErrorCode): void {
    this.#header(4, FrameType.RST_STREAM, 0, streamId);
    this.#u32(code);
  }
}
