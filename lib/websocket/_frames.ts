/**
 * RFC 6455 framing (§5) and the opening-handshake key (§4.2.2).
 *
 * @module
 */
import type { BufferedReader } from "../io/mod.ts";

/** Frame opcodes. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Close codes (§7.4.1) used here. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  InvalidData: 1007,
  PolicyViolation: 1008,
  TooBig: 1009,
  InternalError: 1011,
} as const;

/** One frame, unmasked. */
export interface WsFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Uint8Array;
}

/** The peer broke the framing rules; `code` is the close code to answer with. */
export class WsProtocolError extends Error {
  /** Close code to send. */
  readonly code: number;
  /** Builds the error. */
  constructor(message: string, code: number = CloseCode.ProtocolError) {
    super(message);
    this.name = "WsProtocolError";
    this.code = code;
  }
}

/** Encodes a frame; `mask` (4 bytes) is for the client side only. */
export function encodeWsFrame(
  opcode: number,
  payload: Uint8Array,
  opts: { fin?: boolean; mask?: Uint8Array } = {},
): Uint8Array {
  const len = payload.byteLength;
  const ext = len < 126 ? 0 : len <= 0xffff ? 2 : 8;
  const maskLen = opts.mask ? 4 : 0;
  const out = new Uint8Array(2 + ext + maskLen + len);
  const v = new DataView(out.buffer);
  out[0] = ((opts.fin ?? true) ? 0x80 : 0) | (opcode & 0x0f);
  const maskBit = opts.mask ? 0x80 : 0;
  if (ext === 0) {
    out[1] = maskBit | len;
  } else if (ext === 2) {
    out[1] = maskBit | 126;
    v.setUint16(2, len);
  } else {
    out[1] = maskBit | 127;
    v.setBigUint64(2, BigInt(len));
  }
  const off = 2 + ext + maskLen;
  out.set(payload, off);
  if (opts.mask) {
    out.set(opts.mask, 2 + ext);
    for (let i = 0; i < len; i++) out[off + i]! ^= opts.mask[i & 3]!;
  }
  return out;
}

/**
 * Reads one frame, unmasking it. `null` at a clean end between frames. Payloads over
 * `maxPayload` are refused with close code 1009 before they are read.
 */
export async function readWsFrame(
  reader: BufferedReader,
  maxPayload: number,
): Promise<WsFrame | null> {
  const head = await reader.readExact(2, "a WebSocket frame header");
  if (head === null) return null;
  const b0 = head[0]!;
  const b1 = head[1]!;
  if ((b0 & 0x70) !== 0) {
    throw new WsProtocolError("reserved bits set without a negotiated extension");
  }
  const fin = (b0 & 0x80) !== 0;
  const opcode = b0 & 0x0f;
  const masked = (b1 & 0x80) !== 0;
  let len = b1 & 0x7f;
  if (len === 126) {
    const ext = await reader.readExact(2, "a WebSocket frame length");
    if (ext === null) throw new WsProtocolError("truncated frame");
    len = ext[0]! << 8 | ext[1]!;
  } else if (len === 127) {
    const ext = await reader.readExact(8, "a WebSocket frame length");
    if (ext === null) throw new WsProtocolError("truncated frame");
    const big = new DataView(ext.buffer, ext.byteOffset, 8).getBigUint64(0);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new WsProtocolError("frame length out of range", CloseCode.TooBig);
    }
    len = Number(big);
  }
  if (opcode >= 0x8) {
    // §5.5: control frames are short and never fragmented.
    if (!fin) throw new WsProtocolError("fragmented control frame");
    if (len > 125) throw new WsProtocolError("control frame longer than 125 bytes");
  }
  if (len > maxPayload) {
    throw new WsProtocolError(`frame of ${len} bytes exceeds ${maxPayload}`, CloseCode.TooBig);
  }
  let mask: Uint8Array | undefined;
  if (masked) {
    mask = (await reader.readExact(4, "a WebSocket masking key")) ?? undefined;
    if (!mask) throw new WsProtocolError("truncated frame");
  }
  let payload = (await reader.readExact(len, "a WebSocket frame")) ?? new Uint8Array(0);
  if (payload.byteLength !== len) throw new WsProtocolError("truncated frame");
  if (mask) {
    payload = payload.slice();
    for (let i = 0; i < len; i++) payload[i]! ^= mask[i & 3]!;
  }
  return { fin, opcode, masked, payload };
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (§4.2.2 step 5.4). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** True when `key` is a valid `Sec-WebSocket-Key`: base64 of 16 bytes (§4.1). */
export function isValidKey(key: string): boolean {
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return false;
  try {
    return atob(key).length === 16;
  } catch {
    return false;
  }
}
