import { assertEquals } from "../../testing/assert.ts";
import { formatTimeout, parseTimeout } from "./_timeout.ts";

Deno.test("parseTimeout() reads every unit into milliseconds", () => {
  assertEquals(parseTimeout("2H"), 7_200_000);
  assertEquals(parseTimeout("3M"), 180_000);
  assertEquals(parseTimeout("5S"), 5_000);
  assertEquals(parseTimeout("250m"), 250);
  assertEquals(parseTimeout("1500u"), 1.5);
  assertEquals(parseTimeout("2000000n"), 2);
  assertEquals(parseTimeout("0m"), 0);
  assertEquals(parseTimeout("99999999S"), 99_999_999_000);
});

Deno.test("parseTimeout() rejects what the protocol does not allow", () => {
  for (const bad of ["", "5", "S", "123456789S", "-1S", "1.5S", "5s", "5 S", " 5S", "5SS"]) {
    assertEquals(parseTimeout(bad), undefined, JSON.stringify(bad));
  }
});

Deno.test("formatTimeout() output parses back to at least the same timeout", () => {
  for (const ms of [0, 0.001, 1, 1500, 60_000, 3_600_000, 10 * 24 * 3_600_000]) {
    const s = formatTimeout(ms);
    const back = parseTimeout(s);
    assertEquals(back !== undefined && back >= ms, true, `${ms} → ${s} → ${back}`);
  }
});
