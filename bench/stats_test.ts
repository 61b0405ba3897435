import { assertEquals, assertThrows } from "../testing/assert.ts";
import { percentile, ratio, summarize } from "./stats.ts";

Deno.test("percentile() interpolates between the closest ranks", () => {
  const s = [10, 20, 30, 40, 50];
  assertEquals(percentile(s, 0), 10);
  assertEquals(percentile(s, 50), 30);
  assertEquals(percentile(s, 100), 50);
  assertEquals(percentile(s, 90), 46);
  assertEquals(percentile([1, 2], 50), 1.5);
  assertEquals(percentile([7], 99), 7);
});

Deno.test("percentile() refuses no samples and out-of-range percentiles", () => {
  assertThrows(() => percentile([], 50), RangeError);
  assertThrows(() => percentile([1], 101), RangeError);
  assertThrows(() => percentile([1], -1), RangeError);
});

Deno.test("summarize() sorts, ignores non-finite samples and reports every percentile", () => {
  const s = summarize([30, 10, 20, Number.NaN, Infinity]);
  assertEquals(s, { n: 3, min: 10, max: 30, mean: 20, p50: 20, p90: 28, p99: 29.8 });
  assertEquals(summarize([]), undefined);
  assertEquals(summarize([Number.NaN]), undefined);
});

Deno.test("ratio() is undefined without both values or with a non-positive base", () => {
  assertEquals(ratio(3, 2), 1.5);
  assertEquals(ratio(undefined, 2), undefined);
  assertEquals(ratio(3, undefined), undefined);
  assertEquals(ratio(3, 0), undefined);
  assertEquals(ratio(Number.NaN, 2), undefined);
});
