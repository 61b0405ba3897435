import { assert, assertEquals } from "../testing/assert.ts";
import { formatRfc3339Nano, nowNs } from "./clock.ts";

Deno.test("formatRfc3339Nano() writes UTC with nine fraction digits", () => {
  assertEquals(formatRfc3339Nano(1475713029669794202n), "2016-10-06T00:17:09.669794202Z");
  assertEquals(formatRfc3339Nano(1475713029000000005n), "2016-10-06T00:17:09.000000005Z");
  assertEquals(formatRfc3339Nano(0n), "1970-01-01T00:00:00.000000000Z");
});

Deno.test("nowNs() is close to Date.now() and never goes backwards", () => {
  const a = nowNs();
  const b = nowNs();
  assert(b > a, "strictly increasing");
  const diffMs = Number(a / 1_000_000n) - Date.now();
  assert(Math.abs(diffMs) < 1000, `within a second of the wall clock (off by ${diffMs} ms)`);
});
