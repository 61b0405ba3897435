import { assertEquals } from "../testing/assert.ts";
import { fromBase64, toBase64 } from "./base64.ts";

Deno.test("toBase64() and fromBase64() round-trip bytes, 100 KiB ones included", () => {
  assertEquals(toBase64(new TextEncoder().encode("hello")), "aGVsbG8=");
  const big = Uint8Array.from({ length: 100 * 1024 }, (_, i) => (i * 7) & 0xff);
  assertEquals(fromBase64(toBase64(big)), big);
  assertEquals(fromBase64(""), new Uint8Array());
});
