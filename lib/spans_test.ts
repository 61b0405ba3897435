import { assertEquals } from "../testing/assert.ts";
import { Spans } from "./spans.ts";

Deno.test("Spans: each mark is the time since the previous one; a repeated name adds up", () => {
  const s = new Spans(100);
  s.mark("aMs", 103.04);
  s.mark("bMs", 110);
  s.mark("aMs", 111);
  assertEquals(s.fields(), { aMs: 4, bMs: 7, totalMs: 11 });
});
