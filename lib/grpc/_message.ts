/**
 * gRPC length-prefixed messages (grpc/grpc `doc/PROTOCOL-HTTP2.md`): a compressed flag
 * byte, a 4-byte big-endian length, then the message.
 *
 * @module
 */
import { Status, StatusError } from "./_status.ts";

/** Bytes before each message. */
export const PREFIX_SIZE = 5;

/** The 5-byte prefix of a message of `length` bytes. */
export function messagePrefix(length: number, compressed = false): Uint8Array {
  const p = new Uint8Array(PREFIX_SIZE);
  p[0] = compressed ? 1 : 0;
  p[1] = length >>> 24;
  p[2] = length >>> 16;
  p[3] = length >>> 8;
  p[4] = length;
  return p;
}

/** One received message. */
export interface RawMessage {
  compressed: boolean;
  data: Uint8Array;
}

/**
 * Reassembles messages from DATA chunks. A message's buffer grows as its bytes arrive
 * rather than being allocated from the declared length, so a client declaring large
 * messages it never sends costs nothing.
 */
export class MessageReader {
  readonly #max: number;
  readonly #onMessage: (m: RawMessage) => void;
  readonly #prefix = new Uint8Array(PREFIX_SIZE);
  #prefixLen = 0;
  #compressed = false;
  #length = 0;
  #buf: Uint8Array | undefined;
  #filled = 0;

  /** Calls `onMessage` for each complete message of at most `maxBytes`. */
  constructor(maxBytes: number, onMessage: (m: RawMessage) => void) {
    this.#max = maxBytes;
    this.#onMessage = onMessage;
  }

  /** True while part of a message is buffered. */
  get partial(): boolean {
    return this.#prefixLen > 0;
  }

  /** Bytes of the message in progress held so far, prefix included. */
  get buffered(): number {
    return this.#prefixLen + (this.#prefixLen === PREFIX_SIZE ? this.#filled : 0);
  }

  /** Bytes still to come before the message in progress is complete (0 between messages). */
  get missing(): number {
    if (this.#prefixLen === 0) return 0;
    if (this.#prefixLen < PREFIX_SIZE) return PREFIX_SIZE - this.#prefixLen;
    return this.#length - this.#filled;
  }

  /** Drops the message in progress. */
  reset(): void {
    this.#prefixLen = 0;
    this.#buf = undefined;
    this.#filled = 0;
  }

  /**
   * Consumes a chunk (copying what it keeps). Throws a StatusError: RESOURCE_EXHAUSTED
   * for a message over the limit (before buffering it), INTERNAL for a bad flag byte.
   */
  push(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.#prefixLen < PREFIX_SIZE) {
        // Fast path: a whole message inside this chunk is handed out without copying.
        if (this.#prefixLen === 0 && chunk.length - off >= PREFIX_SIZE) {
          const flag = chunk[off]!;
          const len = readLength(chunk, off + 1);
          this.#check(flag, len);
          if (chunk.length - off - PREFIX_SIZE >= len) {
            const start = off + PREFIX_SIZE;
            this.#onMessage({ compressed: flag === 1, data: chunk.slice(start, start + len) });
            off = start + len;
            continue;
          }
        }
        const n = Math.min(PREFIX_SIZE - this.#prefixLen, chunk.length - off);
        this.#prefix.set(chunk.subarray(off, off + n), this.#prefixLen);
        this.#prefixLen += n;
        off += n;
        if (this.#prefixLen < PREFIX_SIZE) return;
        const flag = this.#prefix[0]!;
        this.#length = readLength(this.#prefix, 1);
        this.#check(flag, this.#length);
        this.#compressed = flag === 1;
        this.#buf = new Uint8Array(Math.min(this.#length, 64 * 1024));
        this.#filled = 0;
      }
      const want = this.#length - this.#filled;
      const n = Math.min(want, chunk.length - off);
      if (this.#filled + n > this.#buf!.length) {
        const next = new Uint8Array(
          Math.min(this.#length, Math.max(this.#buf!.length * 2, this.#filled + n)),
        );
        next.set(this.#buf!.subarray(0, this.#filled));
        this.#buf = next;
      }
      this.#buf!.set(chunk.subarray(off, off + n), this.#filled);
      this.#filled += n;
      off += n;
      if (this.#filled === this.#length) {
        const data = this.#buf!;
        this.#buf = undefined;
        this.#prefixLen = 0;
        this.#onMessage({ compressed: this.#compressed, data });
      }
    }
  }

  #check(flag: number, len: number): void {
    if (flag > 1) {
      throw new StatusError(
        Status.INTERNAL,
        `grpc: invalid compressed-flag byte ${flag} in message prefix`,
      );
    }
    if (len > this.#max) {
      throw new StatusError(
        Status.RESOURCE_EXHAUSTED,
        `grpc: received message larger than max (${len} vs. ${this.#max})`,
      );
    }
  }
}

function readLength(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
