import { assertEquals } from "../testing/assert.ts";
import { deviceNumbers } from "./devnum.ts";

/** glibc's makedev. */
const makedev = (major: bigint, minor: bigint) =>
  ((major & 0xfffn) << 8n) | ((major & ~0xfffn) << 32n) | (minor & 0xffn) |
  ((minor & ~0xffn) << 12n);

Deno.test("deviceNumbers() splits small and large dev_t values as glibc does", () => {
  assertEquals(deviceNumbers(0x0103), { major: 1, minor: 3 }); // /dev/null
  assertEquals(deviceNumbers(makedev(0x1234n, 0xabcdefn)), { major: 0x1234, minor: 0xabcdef });
});
