/**
 * SPDY/3 framing (draft-mbelshe-httpbis-spdy-00 §2.2–2.6): encoding and decoding of frames,
 * and of the name/value header block inside SYN_STREAM, SYN_REPLY and HEADERS. Header
 * compression is stateful per connection and lives in `_compression.ts`; frames here carry
 * the compressed block as opaque bytes.
 *
 * The byte layout matches what the kubelet's and client-go's SPDY library (moby/spdystream,
 * whose framer comes from Go's old `go.net/spdy`) reads and writes.
 *
 * @module
 */
import type { BufferedReader } from "../io/mod.ts";

/** The protocol version in every control frame. */
export const SPDY_VERSION = 3;

/** Control frame types. */
export const ControlType = {
  SynStream: 1,
  SynReply: 2,
  RstStream: 3,
  Settings: 4,
  Ping: 6,
  GoAway: 7,
  Headers: 8,
  WindowUpdate: 9,
} as const;

/** RST_STREAM status codes. */
export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
  FrameTooLarge: 11,
} as const;

/** GOAWAY status codes. */
export const GoAwayStatus = { Ok: 0, ProtocolError: 1, InternalError: 2 } as const;

/** SETTINGS ids used here. */
export const SettingId = { MaxConcurrentStreams: 4, InitialWindowSize: 7 } as const;

/** The largest payload a frame's 24-bit length field can describe. */
export const MAX_FRAME_LENGTH = 0xffffff;

const FLAG_FIN = 0x01;
const FLAG_UNIDIRECTIONAL = 0x02;
const FLAG_CLEAR_SETTINGS = 0x01;

/** One id/value pair of a SETTINGS frame. */
export interface SettingEntry {
  readonly flags: number;
  readonly id: number;
  readonly value: number;
}

/** A decoded frame. `block` is a header block still compressed. */
export type Frame =
  | { kind: "data"; streamId: number; fin: boolean; data: Uint8Array }
  | {
    kind: "syn_stream";
    streamId: number;
    associatedId: number;
    priority: number;
    fin: boolean;
    unidirectional: boolean;
    block: Uint8Array;
  }
  | { kind: "syn_reply"; streamId: number; fin: boolean; block: Uint8Array }
  | { kind: "rst_stream"; streamId: number; status: number }
  | { kind: "settings"; clear: boolean; entries: SettingEntry[] }
  | { kind: "ping"; id: number }
  | { kind: "goaway"; lastGoodStreamId: number; status: number }
  | { kind: "headers"; streamId: number; fin: boolean; block: Uint8Array }
  | { kind: "window_update"; streamId: number; delta: number }
  | { kind: "unknown"; type: number; flags: number };

/** A peer broke the framing rules; the connection cannot continue. */
export class SpdyProtocolError extends Error {
  /** Builds the error with a message saying what was malformed. */
  constructor(message: string) {
    super(message);
    this.name = "SpdyProtocolError";
  }
}

/** Header names and their values, names lower-case (SPDY requires it on the wire). */
export type HeaderMap = Map<string, string[]>;

function controlFrame(type: number, flags: number, body: Uint8Array): Uint8Array<ArrayBuffer> {
  if (body.byteLength > MAX_FRAME_LENGTH) {
    throw new RangeError(`SPDY control frame body of ${body.byteLength} bytes is too long`);
  }
  const out = new Uint8Array(8 + body.byteLength);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0x8000 | SPDY_VERSION);
  v.setUint16(2, type);
  v.setUint32(4, ((flags & 0xff) << 24 | body.byteLength) >>> 0);
  out.set(body, 8);
  return out;
}

function words(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setUint32(i * 4, x >>> 0));
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

function checkStreamId(id: number): void {
  if (!Number.isInteger(id) || id <= 0 || id > 0x7fffffff) {
    throw new RangeError(`SPDY stream id must be in 1..2^31-1, got ${id}`);
  }
}

/** Serialises a frame. */
export function encodeFrame(f: Exclude<Frame, { kind: "unknown" }>): Uint8Array<ArrayBuffer> {
  switch (f.kind) {
    case "data": {
      checkStreamId(f.streamId);
      if (f.data.byteLength > MAX_FRAME_LENGTH) {
        throw new RangeError(`SPDY data frame of ${f.data.byteLength} bytes is too long`);
      }
      const out = new Uint8Array(8 + f.data.byteLength);
      const v = new DataView(out.buffer);
      v.setUint32(0, f.streamId & 0x7fffffff);
      v.setUint32(4, ((f.fin ? FLAG_FIN : 0) << 24 | f.data.byteLength) >>> 0);
      out.set(f.data, 8);
      return out;
    }
    case "syn_stream": {
      checkStreamId(f.streamId);
      // stream id, associated id, then 3 bits of priority, 5 unused bits and the slot byte.
      const head = new Uint8Array(10);
      const v = new DataView(head.buffer);
      v.setUint32(0, f.streamId & 0x7fffffff);
      v.setUint32(4, f.associatedId & 0x7fffffff);
      head[8] = (f.priority & 0x7) << 5;
      head[9] = 0;
      const flags = (f.fin ? FLAG_FIN : 0) | (f.unidirectional ? FLAG_UNIDIRECTIONAL : 0);
      return controlFrame(ControlType.SynStream, flags, concat(head, f.block));
    }
    case "syn_reply":
      checkStreamId(f.streamId);
      return controlFrame(
        ControlType.SynReply,
        f.fin ? FLAG_FIN : 0,
        concat(words(f.streamId & 0x7fffffff), f.block),
      );
    case "headers":
      checkStreamId(f.streamId);
      return controlFrame(
        ControlType.Headers,
        f.fin ? FLAG_FIN : 0,
        concat(words(f.streamId & 0x7fffffff), f.block),
      );
    case "rst_stream":
      checkStreamId(f.streamId);
      return controlFrame(ControlType.RstStream, 0, words(f.streamId & 0x7fffffff, f.status));
    case "settings": {
      const body = new Uint8Array(4 + 8 * f.entries.length);
      const v = new DataView(body.buffer);
      v.setUint32(0, f.entries.length);
      f.entries.forEach((e, i) => {
        v.setUint32(4 + i * 8, ((e.flags & 0xff) << 24 | (e.id & 0xffffff)) >>> 0);
        v.setUint32(8 + i * 8, e.value >>> 0);
      });
      return controlFrame(ControlType.Settings, f.clear ? FLAG_CLEAR_SETTINGS : 0, body);
    }
    case "ping":
      return controlFrame(ControlType.Ping, 0, words(f.id));
    case "goaway":
      return controlFrame(ControlType.GoAway, 0, words(f.lastGoodStreamId & 0x7fffffff, f.status));
    case "window_update":
      return controlFrame(
        ControlType.WindowUpdate,
        0,
        words(f.streamId & 0x7fffffff, f.delta & 0x7fffffff),
      );
  }
}

function needLength(type: string, got: number, want: number): void {
  if (got !== want) {
    throw new SpdyProtocolError(`${type} frame has length ${got}, want ${want}`);
  }
}

function needMin(type: string, got: number, min: number): void {
  if (got < min) throw new SpdyProtocolError(`${type} frame has length ${got}, want ≥ ${min}`);
}

/**
 * Reads one frame; `null` when the connection ends cleanly between frames. Frames longer
 * than `maxLength` are a protocol error (they would have to be held in memory whole).
 */
export async function readFrame(
  reader: BufferedReader,
  maxLength: number = MAX_FRAME_LENGTH,
): Promise<Frame | null> {
  const head = await reader.readExact(8, "a SPDY frame header");
  if (head === null) return null;
  const hv = new DataView(head.buffer, head.byteOffset, 8);
  const first = hv.getUint32(0);
  const flags = head[4]!;
  const length = hv.getUint32(4) & 0xffffff;
  if (length > maxLength) {
    throw new SpdyProtocolError(`frame of ${length} bytes exceeds the limit of ${maxLength}`);
  }
  const payload = (await reader.readExact(length, "a SPDY frame")) ?? new Uint8Array(0);
  if (length > 0 && payload.byteLength !== length) {
    throw new SpdyProtocolError("short SPDY frame");
  }
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if ((first & 0x80000000) === 0) {
    return {
      kind: "data",
      streamId: first & 0x7fffffff,
      fin: (flags & FLAG_FIN) !== 0,
      data: payload,
    };
  }
  const version = (first >>> 16) & 0x7fff;
  const type = first & 0xffff;
  if (version !== SPDY_VERSION) {
    throw new SpdyProtocolError(`control frame of SPDY version ${version}, want ${SPDY_VERSION}`);
  }
  const fin = (flags & FLAG_FIN) !== 0;
  switch (type) {
    case ControlType.SynStream:
      needMin("SYN_STREAM", length, 10);
      return {
        kind: "syn_stream",
        streamId: pv.getUint32(0) & 0x7fffffff,
        associatedId: pv.getUint32(4) & 0x7fffffff,
        priority: payload[8]! >> 5,
        fin,
        unidirectional: (flags & FLAG_UNIDIRECTIONAL) !== 0,
        block: payload.subarray(10),
      };
    case ControlType.SynReply:
      needMin("SYN_REPLY", length, 4);
      return {
        kind: "syn_reply",
        streamId: pv.getUint32(0) & 0x7fffffff,
        fin,
        block: payload.subarray(4),
      };
    case ControlType.Headers:
      needMin("HEADERS", length, 4);
      return {
        kind: "headers",
        streamId: pv.getUint32(0) & 0x7fffffff,
        fin,
        block: payload.subarray(4),
      };
    case ControlType.RstStream:
      needLength("RST_STREAM", length, 8);
      return {
        kind: "rst_stream",
        streamId: pv.getUint32(0) & 0x7fffffff,
        status: pv.getUint32(4),
      };
    case ControlType.Settings: {
      needMin("SETTINGS", length, 4);
      const count = pv.getUint32(0);
      needLength("SETTINGS", length, 4 + count * 8);
      const entries: SettingEntry[] = [];
      for (let i = 0; i < count; i++) {
        const fid = pv.getUint32(4 + i * 8);
        entries.push({ flags: fid >>> 24, id: fid & 0xffffff, value: pv.getUint32(8 + i * 8) });
      }
      return { kind: "settings", clear: (flags & FLAG_CLEAR_SETTINGS) !== 0, entries };
    }
    case ControlType.Ping:
      needLength("PING", length, 4);
      return { kind: "ping", id: pv.getUint32(0) };
    case ControlType.GoAway:
      // SPDY/2 GOAWAY had no status; SPDY/3 has 8 bytes. Accept both rather than fail a
      // connection that is closing anyway.
      needMin("GOAWAY", length, 4);
      return {
        kind: "goaway",
        lastGoodStreamId: pv.getUint32(0) & 0x7fffffff,
        status: length >= 8 ? pv.getUint32(4) : GoAwayStatus.Ok,
      };
    case ControlType.WindowUpdate:
      needLength("WINDOW_UPDATE", length, 8);
      return {
        kind: "window_update",
        streamId: pv.getUint32(0) & 0x7fffffff,
        delta: pv.getUint32(4) & 0x7fffffff,
      };
    default:
      // §2.2.1: unknown control frames must be ignored.
      return { kind: "unknown", type, flags };
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });

/**
 * The uncompressed name/value block: a 32-bit pair count, then per pair a length-prefixed
 * lower-case name and a length-prefixed value whose several values are NUL-separated.
 */
export function encodeHeaderBlock(headers: Iterable<[string, readonly string[]]>): Uint8Array {
  const parts: Uint8Array[] = [];
  let count = 0;
  let size = 4;
  for (const [name, values] of headers) {
    const n = enc.encode(name.toLowerCase());
    const v = enc.encode(values.join("\0"));
    parts.push(words(n.byteLength), n, words(v.byteLength), v);
    size += 8 + n.byteLength + v.byteLength;
    count++;
  }
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, count);
  let off = 4;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Parses an uncompressed name/value block; names come back lower-cased. */
export function decodeHeaderBlock(block: Uint8Array): HeaderMap {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const need = (off: number, n: number): void => {
    if (off + n > block.byteLength) throw new SpdyProtocolError("truncated SPDY header block");
  };
  need(0, 4);
  const count = v.getUint32(0);
  // Each pair takes at least 8 bytes: a count beyond that is a lie, not a big block.
  if (count > (block.byteLength - 4) / 8) {
    throw new SpdyProtocolError(
      `SPDY header block claims ${count} pairs in ${block.byteLength} bytes`,
    );
  }
  const out: HeaderMap = new Map();
  let off = 4;
  for (let i = 0; i < count; i++) {
    need(off, 4);
    const nl = v.getUint32(off);
    off += 4;
    need(off, nl);
    const name = dec.decode(block.subarray(off, off + nl)).toLowerCase();
    off += nl;
    need(off, 4);
    const vl = v.getUint32(off);
    off += 4;
    need(off, vl);
    const values = dec.decode(block.subarray(off, off + vl)).split("\0");
    off += vl;
    if (name.length === 0) throw new SpdyProtocolError("empty header name in SPDY header block");
    out.set(name, [...(out.get(name) ?? []), ...values]);
  }
  return out;
}
