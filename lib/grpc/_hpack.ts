/**
 * HPACK (RFC 7541): the decoder keeps the peer's dynamic table and enforces our limits;
 * the encoder is stateless (indexed static fields and literals without indexing, no
 * Huffman), which is always correct and lets callers cache encoded blocks.
 *
 * Field names and values are handled as octets mapped one-to-one onto string characters
 * (latin1): HTTP/2 fields are octets, gRPC metadata is ASCII, and this never fails.
 *
 * @module
 */
import { connectionError, ErrorCode } from "./_h2_frame.ts";
import { huffmanDecode } from "./_hpack_huffman.ts";

/** The static table (RFC 7541 Appendix A); index 1 is element 0. */
// deno-fmt-ignore
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"],
  [":path", "/index.html"], [":scheme", "http"], [":scheme", "https"], [":status", "200"],
  [":status", "204"], [":status", "206"], [":status", "304"], [":status", "400"],
  [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""],
  ["accept", ""], ["access-control-allow-origin", ""], ["age", ""], ["allow", ""],
  ["authorization", ""], ["cache-control", ""], ["content-disposition", ""],
  ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""],
  ["date", ""], ["etag", ""], ["expect", ""], ["expires", ""], ["from", ""], ["host", ""],
  ["if-match", ""], ["if-modified-since", ""], ["if-none-match", ""], ["if-range", ""],
  ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""], ["location", ""],
  ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""],
  ["range", ""], ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""],
  ["set-cookie", ""], ["strict-transport-security", ""], ["transfer-encoding", ""],
  ["user-agent", ""], ["vary", ""], ["via", ""], ["www-authenticate", ""],
];

/** Per-entry overhead in table and list size accounting (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;
/** SETTINGS_HEADER_TABLE_SIZE until the peer says otherwise. */
export const DEFAULT_TABLE_SIZE = 4096;

/** A decoded field block. */
export interface DecodedBlock {
  /** Names and values alternating: `[name0, value0, name1, value1, …]`. */
  fields: string[];
  /** The header list size as RFC 9113 §6.5.2 counts it (name + value + 32 per field). */
  size: number;
  /** True when `size` passed the limit: `fields` stops at the limit and must not be used. */
  oversized: boolean;
}

/** Turns octets into a string, one character per octet. */
export function latin1(b: Uint8Array): string {
  if (b.length < 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/**
 * The dynamic table (RFC 7541 §2.3.2, §4): newest entry first in index order, evicted
 * oldest-first when an insert or a size change needs room.
 */
export class DynamicTable {
  // Stored oldest-first so inserts are pushes and evictions shifts of a short array.
  readonly #names: string[] = [];
  readonly #values: string[] = [];
  #size = 0;
  #max: number;

  /** A table holding at most `maxSize` bytes of entries. */
  constructor(maxSize: number) {
    this.#max = maxSize;
  }

  /** Entries in the table. */
  get length(): number {
    return this.#names.length;
  }
  /** Current size in the RFC's accounting. */
  get size(): number {
    return this.#size;
  }
  /** Current maximum size. */
  get maxSize(): number {
    return this.#max;
  }

  /** Entry `i`, 0 being the newest; undefined when out of range. */
  get(i: number): readonly [string, string] | undefined {
    const k = this.#names.length - 1 - i;
    if (k < 0 || i < 0) return undefined;
    return [this.#names[k]!, this.#values[k]!];
  }

  /** Inserts an entry, evicting as needed; an entry larger than the table empties it. */
  add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.#evictTo(this.#max - size);
    if (size > this.#max) return;
    this.#names.push(name);
    this.#values.push(value);
    this.#size += size;
  }

  /** Changes the maximum size, evicting entries that no longer fit. */
  resize(max: number): void {
    this.#max = max;
    this.#evictTo(max);
  }

  #evictTo(limit: number): void {
    while (this.#size > Math.max(0, limit) && this.#names.length > 0) {
      this.#size -= this.#names[0]!.length + this.#values[0]!.length + ENTRY_OVERHEAD;
      this.#names.shift();
      this.#values.shift();
    }
  }
}

/** Limits a decoder enforces. */
export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the most the peer may size the table to. */
  maxTableSize: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE: lists beyond it are flagged, not materialised. */
  maxHeaderListSize: number;
}

/**
 * Decodes field blocks from one peer. Every error is a COMPRESSION_ERROR connection error:
 * once a block fails, the shared table can no longer be trusted.
 */
export class HpackDecoder {
  readonly table: DynamicTable;
  readonly #maxTableSize: number;
  readonly #maxListSize: number;

  /** A decoder with a fresh table. */
  constructor(opts: HpackDecoderOptions) {
    this.#maxTableSize = opts.maxTableSize;
    this.#maxListSize = opts.maxHeaderListSize;
    this.table = new DynamicTable(opts.maxTableSize);
  }

  /**
   * Decodes one complete field block. A list larger than the limit is still decoded to
   * the end (the table must stay in step with the peer's), but its fields are dropped and
   * `oversized` is set, so a small block that expands into a huge list (an HPACK bomb)
   * costs no memory.
   */
  decode(block: Uint8Array): DecodedBlock {
    const fields: string[] = [];
    let size = 0;
    let oversized = false;
    let pos = 0;
    let sawField = false;
    const fail = (msg: string): never => {
      throw connectionError(ErrorCode.COMPRESSION_ERROR, `HPACK: ${msg} at offset ${pos}`);
    };
    const integer = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1;
      let v = block[pos++]! & mask;
      if (v < mask) return v;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) fail("truncated integer");
        const b = block[pos++]!;
        // Bounded by length too: zero-valued continuation bytes would otherwise never end.
        if (shift > 28) fail("integer longer than 5 bytes");
        v += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (v > 0x7fff_ffff) fail("integer overflow");
        if (!(b & 0x80)) return v;
      }
    };
    const string = (skip: boolean): string => {
      if (pos >= block.length) fail("truncated string");
      const huffman = (block[pos]! & 0x80) !== 0;
      const len = integer(7);
      if (len > block.length - pos) fail(`string of ${len} bytes overruns the block`);
      const raw = block.subarray(pos, pos + len);
      pos += len;
      if (skip && !huffman) return "";
      // Huffman strings are decoded even when skipped, to reject malformed ones.
      const bytes = huffman ? huffmanDecode(raw) : raw;
      return skip ? "" : latin1(bytes);
    };
    const entry = (index: number): readonly [string, string] => {
      if (index === 0) fail("index 0");
      if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
      const e = this.table.get(index - STATIC_TABLE.length - 1);
      if (!e) fail(`index ${index} beyond the tables (${this.table.length} dynamic entries)`);
      return e!;
    };
    const emit = (name: string, nameLen: number, value: string, valueLen: number): void => {
      size += nameLen + valueLen + ENTRY_OVERHEAD;
      if (size > this.#maxListSize) oversized = true;
      if (oversized) return;
      fields.push(name, value);
    };

    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        // Indexed field (§6.1).
        const [name, value] = entry(integer(7));
        emit(name, name.length, value, value.length);
        sawField = true;
      } else if (b & 0x40) {
        // Literal with incremental indexing (§6.2.1): always materialised, it enters the table.
        const index = integer(6);
        const name = index === 0 ? string(false) : entry(index)[0];
        const value = string(false);
        this.table.add(name, value);
        emit(name, name.length, value, value.length);
        sawField = true;
      } else if (b & 0x20) {
        // Dynamic table size update (§6.3): only before the first field of a block.
        if (sawField) fail("dynamic table size update after a field");
        const max = integer(5);
        if (max > this.#maxTableSize) {
          fail(
            `dynamic table size ${max} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.#maxTableSize}`,
          );
        }
        this.table.resize(max);
      } else {
        // Literal without indexing (§6.2.2) or never indexed (§6.2.3): same shape.
        const index = integer(4);
        const start = pos;
        const name = index === 0 ? string(oversized) : entry(index)[0];
        const nameLen = index === 0 ? pos - start : name.length;
        const vStart = pos;
        const value = string(oversized);
        // Skipped strings still count, by their encoded length (a lower bound).
        emit(
          name,
          oversized ? nameLen : name.length,
          value,
          oversized ? pos - vStart : value.length,
        );
        sawField = true;
      }
    }
    return { fields: oversized ? [] : fields, size, oversized };
  }
}

/** An encoded field block, ready for HEADERS frames. */
export type EncodedBlock = Uint8Array;

const STATIC_EXACT = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
for (let i = STATIC_TABLE.length - 1; i >= 0; i--) {
  const [name, value] = STATIC_TABLE[i]!;
  STATIC_EXACT.set(`${name}\0${value}`, i + 1);
  STATIC_NAME.set(name, i + 1);
}

/**
 * Encodes fields without touching any dynamic table: static-table matches are indexed,
 * everything else is a literal without indexing and without Huffman coding. Names must be
 * lowercase (RFC 9113 §8.2.1); characters above U+00FF are a programming error.
 */
export function encodeBlock(fields: ReadonlyArray<readonly [string, string]>): EncodedBlock {
  let cap = 0;
  for (const [n, v] of fields) cap += n.length + v.length + 12;
  const out = new Uint8Array(cap);
  let pos = 0;
  const integer = (first: number, prefixBits: number, v: number): void => {
    const mask = (1 << prefixBits) - 1;
    if (v < mask) {
      out[pos++] = first | v;
      return;
    }
    out[pos++] = first | mask;
    v -= mask;
    while (v >= 0x80) {
      out[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[pos++] = v;
  };
  const string = (s: string): void => {
    integer(0, 7, s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) throw new TypeError(`header text has a character beyond U+00FF: ${s}`);
      out[pos++] = c;
    }
  };
  for (const [name, value] of fields) {
    const exact = STATIC_EXACT.get(`${name}\0${value}`);
    if (exact !== undefined) {
      integer(0x80, 7, exact);
      continue;
    }
    const index = STATIC_NAME.get(name);
    if (index !== undefined) {
      integer(0x00, 4, index);
    } else {
      out[pos++] = 0x00;
      string(name);
    }
    string(value);
  }
  return out.subarray(0, pos);
}

/** A dynamic table size update to 0 (§6.3): tells the peer we index nothing. */
export const TABLE_SIZE_ZERO: EncodedBlock = new Uint8Array([0x20]);
