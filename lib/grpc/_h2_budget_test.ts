import { assertEquals } from "../../testing/assert.ts";
import { Budget } from "./_h2_budget.ts";

Deno.test("Budget allows max events per interval and refills in the next interval", () => {
  let now = 1000;
  const b = new Budget(3, 100, () => now);
  assertEquals([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
  now += 99;
  assertEquals(b.take(), false);
  now += 1;
  assertEquals([b.take(), b.take(), b.take(), b.take()], [true, true, true, false]);
});
