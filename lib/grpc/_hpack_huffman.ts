/**
 * The static Huffman code of HPACK (RFC 7541 §5.2, Appendix B).
 *
 * The code is canonical (codes of one length are consecutive, in symbol order), so the
 * 257 code lengths are enough: the codes are rebuilt from them at load, and decoding
 * walks length by length the way zlib's `puff` does.
 *
 * @module
 */
import { connectionError, ErrorCode } from "./_h2_frame.ts";

/** Code length in bits of symbols 0..255 and EOS (256), from RFC 7541 Appendix B. */
// deno-fmt-ignore
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_BITS = 30;

/** How many codes have each length (index = length). */
const COUNT = new Uint16Array(MAX_BITS + 1);
/** Symbols ordered by (length, symbol): the canonical order. */
const SYMBOLS = new Uint16Array(257);
/** The code of each symbol, and its length. */
const CODES = new Uint32Array(257);

{
  for (const len of LENGTHS) COUNT[len]!++;
  const offset = new Uint16Array(MAX_BITS + 2);
  for (let len = 1; len <= MAX_BITS; len++) offset[len + 1] = offset[len]! + COUNT[len]!;
  for (let sym = 0; sym < 257; sym++) SYMBOLS[offset[LENGTHS[sym]!]!++] = sym;
  let code = 0;
  let prevLen = 0;
  for (let i = 0; i < 257; i++) {
    const sym = SYMBOLS[i]!;
    const len = LENGTHS[sym]!;
    if (i > 0) code = (code + 1) * 2 ** (len - prevLen);
    CODES[sym] = code;
    prevLen = len;
  }
}

/**
 * Decodes a Huffman-coded string into bytes. Rejects (COMPRESSION_ERROR) the EOS symbol,
 * padding longer than 7 bits, and padding that is not the most significant bits of EOS
 * (all ones), as RFC 7541 §5.2 requires.
 */
export function huffmanDecode(src: Uint8Array): Uint8Array {
  // Every symbol is at least 5 bits long.
  const out = new Uint8Array(Math.floor((src.length * 8) / 5));
  let n = 0;
  let code = 0;
  let first = 0;
  let index = 0;
  let len = 0;
  let ones = true;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      code |= b;
      ones &&= b === 1;
      len++;
      const count = COUNT[len]!;
      if (code - count < first) {
        const sym = SYMBOLS[index + (code - first)]!;
        if (sym === EOS) {
          throw connectionError(ErrorCode.COMPRESSION_ERROR, "Huffman string contains EOS");
        }
        out[n++] = sym;
        code =
          first =
          index =
          len =
            0;
        ones = true;
        continue;
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
  }
  if (len > 7) {
    throw connectionError(ErrorCode.COMPRESSION_ERROR, "Huffman padding longer than 7 bits");
  }
  if (!ones) {
    throw connectionError(ErrorCode.COMPRESSION_ERROR, "Huffman padding is not a prefix of EOS");
  }
  return out.subarray(0, n);
}

/** The length in bytes of `src` once Huffman-coded. */
export function huffmanLength(src: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < src.length; i++) bits += LENGTHS[src[i]!]!;
  return Math.ceil(bits / 8);
}

/** Huffman-codes `src`, padding the last byte with the high bits of EOS (ones). */
export function huffmanEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanLength(src));
  let n = 0;
  // Plain arithmetic: pending bits can exceed 32 (7 left over + a 30-bit code).
  let acc = 0;
  let accLen = 0;
  for (let i = 0; i < src.length; i++) {
    const sym = src[i]!;
    const len = LENGTHS[sym]!;
    acc = acc * 2 ** len + CODES[sym]!;
    accLen += len;
    while (accLen >= 8) {
      accLen -= 8;
      const top = Math.floor(acc / 2 ** accLen);
      out[n++] = top;
      acc -= top * 2 ** accLen;
    }
  }
  if (accLen > 0) out[n++] = (acc << (8 - accLen)) | (0xff >> accLen);
  return out;
}
