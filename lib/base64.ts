/**
 * base64 of bytes and back (standard alphabet, padded): the records keep CRI configs as
 * base64 protobuf, and the WebSocket `base64.channel.k8s.io` protocol frames in it.
 *
 * @module
 */

/** base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  // String.fromCharCode takes its arguments on the stack: 32 Ki at a time.
  for (let i = 0; i < bytes.byteLength; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** The bytes of base64 `b64` (throws on a character outside the alphabet). */
export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
