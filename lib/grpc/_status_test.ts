import { assertEquals } from "../../testing/assert.ts";
import { percentDecode, percentEncode, Status, StatusError } from "./_status.ts";

Deno.test("percentEncode() keeps printable ASCII and escapes %, controls and UTF-8", () => {
  assertEquals(percentEncode('container "abc" not found'), 'container "abc" not found');
  assertEquals(percentEncode("100%"), "100%25");
  assertEquals(percentEncode("line1\nline2\t"), "line1%0Aline2%09");
  assertEquals(percentEncode("café ☃"), "caf%C3%A9 %E2%98%83");
});

Deno.test("percentDecode() inverts percentEncode() and keeps malformed escapes", () => {
  for (const s of ["plain", "100%", "a\nb", "café ☃", "%%", ""]) {
    assertEquals(percentDecode(percentEncode(s)), s);
  }
  assertEquals(percentDecode("50%zz%4"), "50%zz%4");
});

Deno.test("StatusError carries its code", () => {
  const err = new StatusError(Status.NOT_FOUND, "no such pod");
  assertEquals([err.code, err.message, err.name], [5, "no such pod", "StatusError"]);
});
