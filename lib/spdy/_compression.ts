/**
 * SPDY/3 header compression (§2.6.10.1): each direction of a connection is one zlib stream,
 * primed with {@link SPDY3_DICTIONARY}, and every header block ends on a sync flush so the
 * peer can decode it on its own.
 *
 * Sending: blocks go out as zlib *stored* blocks. They are valid deflate data, decode with
 * any inflater (Go's `compress/zlib` checks the dictionary id in the stream header and
 * copies stored bytes), keep the encoder synchronous, and cost nothing worth saving: our
 * headers are a handful of short names. (Deno's `node:zlib` deflater also ignores its
 * `dictionary` option, so compressing "properly" with it would not match the spec either.)
 *
 * Receiving: a real inflater, because clients compress with the dictionary.
 *
 * @module
 */
import { constants, createInflate, type Inflate } from "node:zlib";
import { Buffer } from "node:buffer";
import { SPDY3_DICTIONARY } from "./_dictionary.ts";
import { SpdyProtocolError } from "./_frames.ts";

/** Adler-32 (RFC 1950 §9), the checksum zlib uses to name a preset dictionary. */
export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  // 5552 is the largest run that cannot overflow before the modulo (zlib's NMAX).
  for (let i = 0; i < data.byteLength;) {
    const end = Math.min(i + 5552, data.byteLength);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

const MAX_STORED = 0xffff;

/** An empty, non-final stored block: the marker a zlib `Z_SYNC_FLUSH` writes. */
const SYNC_FLUSH = new Uint8Array([0x00, 0x00, 0x00, 0xff, 0xff]);

/** The sending half: a zlib stream of stored blocks, one flush-aligned run per header block. */
export class HeaderDeflater {
  #started = false;

  /** The bytes that carry `block` in this connection's zlib stream. */
  compress(block: Uint8Array): Uint8Array {
    const pieces = Math.max(1, Math.ceil(block.byteLength / MAX_STORED));
    const headLen = this.#started ? 0 : 6;
    const out = new Uint8Array(headLen + pieces * 5 + block.byteLength + SYNC_FLUSH.length);
    const v = new DataView(out.buffer);
    let off = 0;
    if (!this.#started) {
      // CMF 0x78: deflate, 32 KiB window. FLG 0x20: FDICT set, FLEVEL 0, and
      // (0x78 << 8 | 0x20) % 31 == 0 so FCHECK is zero. Then the dictionary's Adler-32.
      out[0] = 0x78;
      out[1] = 0x20;
      v.setUint32(2, adler32(SPDY3_DICTIONARY));
      off = 6;
      this.#started = true;
    }
    for (let p = 0; p < pieces; p++) {
      const chunk = block.subarray(
        p * MAX_STORED,
        Math.min(block.byteLength, (p + 1) * MAX_STORED),
      );
      // BFINAL=0, BTYPE=00 (stored); the rest of the byte is padding. Stored blocks end
      // byte-aligned, which is all a sync flush guarantees.
      out[off] = 0;
      v.setUint16(off + 1, chunk.byteLength, true);
      v.setUint16(off + 3, ~chunk.byteLength & 0xffff, true);
      out.set(chunk, off + 5);
      off += 5 + chunk.byteLength;
    }
    // The empty stored block a zlib sync flush ends with. Go's inflater (moby/spdystream,
    // i.e. crictl, kubectl and containerd) stops before the next block header only on it;
    // without it, it reads on past the frame, hits EOF, and fails every later header block.
    out.set(SYNC_FLUSH, off);
    return out;
  }
}

/** The receiving half: one inflater for the connection, with a cap per header block. */
export class HeaderInflater {
  readonly #z: Inflate;
  readonly #maxBlock: number;
  #out: Uint8Array[] = [];
  #size = 0;
  #pending: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  #failed: Error | undefined;
  #closed = false;

  /** `maxBlock` caps the decompressed size of one header block (a zlib bomb is an error). */
  constructor(maxBlock = 256 * 1024) {
    this.#maxBlock = maxBlock;
    this.#z = createInflate({ dictionary: Buffer.from(SPDY3_DICTIONARY) });
    this.#z.on("data", (chunk: Uint8Array) => {
      this.#size += chunk.byteLength;
      if (this.#size > this.#maxBlock) {
        this.#fail(
          new SpdyProtocolError(`SPDY header block inflates past ${this.#maxBlock} bytes`),
        );
        return;
      }
      this.#out.push(new Uint8Array(chunk));
    });
    this.#z.on("error", (err: Error) => {
      this.#fail(new SpdyProtocolError(`cannot decompress SPDY header block: ${err.message}`));
    });
  }

  #fail(err: Error): void {
    this.#failed ??= err;
    const p = this.#pending;
    this.#pending = undefined;
    p?.reject(this.#failed);
  }

  /** Decompresses one header block (the compressed bytes of one frame). */
  inflate(data: Uint8Array): Promise<Uint8Array> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new SpdyProtocolError("header inflater closed"));
    if (this.#pending) return Promise.reject(new Error("concurrent header block inflation"));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#out = [];
      this.#size = 0;
      this.#z.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      // The flush callback runs just before zlib's "error" event for the same input (in the
      // same turn); settle in a microtask so a corrupt block rejects instead of resolving.
      this.#z.flush(constants.Z_SYNC_FLUSH, () => queueMicrotask(() => this.#settle()));
    });
  }

  #settle(): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    if (this.#failed) {
      p.reject(this.#failed);
      return;
    }
    const all = new Uint8Array(this.#size);
    let off = 0;
    for (const c of this.#out) {
      all.set(c, off);
      off += c.byteLength;
    }
    this.#out = [];
    p.resolve(all);
  }

  /** Releases the zlib state. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#z.close();
    this.#fail(new SpdyProtocolError("header inflater closed"));
  }
}
