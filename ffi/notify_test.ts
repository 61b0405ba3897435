import { assertEquals, assertThrows } from "../testing/assert.ts";
import { unixSockaddr } from "./notify.ts";

Deno.test("unixSockaddr() encodes an abstract name with a leading NUL and no terminator", () => {
  const { addr, len } = unixSockaddr("@sauropod/test");
  assertEquals([addr[0], addr[1]], [1, 0]); // AF_UNIX, little endian
  assertEquals(addr[2], 0);
  assertEquals(new TextDecoder().decode(addr.subarray(3, 3 + 13)), "sauropod/test");
  assertEquals(len, 2 + 1 + 13);
});

Deno.test("unixSockaddr() encodes a path with its NUL terminator", () => {
  const { addr, len } = unixSockaddr("/run/n");
  assertEquals(new TextDecoder().decode(addr.subarray(2, 8)), "/run/n");
  assertEquals(addr[8], 0);
  assertEquals(len, 2 + 6 + 1);
});

Deno.test("unixSockaddr() refuses relative and over-long addresses", () => {
  assertThrows(() => unixSockaddr("run/notify"), RangeError, "absolute path or @abstract");
  assertThrows(() => unixSockaddr(`/${"x".repeat(107)}`), RangeError, "the limit is 107");
});
