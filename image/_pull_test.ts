import { assertEquals } from "../testing/assert.ts";
import { Leases, Semaphore } from "./_pull.ts";

Deno.test("Semaphore lets at most n tasks run at once, in arrival order", async () => {
  const s = new Semaphore(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const gates = Array.from({ length: 5 }, () => Promise.withResolvers<void>());
  const tasks = gates.map((g, i) =>
    s.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await g.promise;
      running--;
    })
  );
  for (const g of gates) {
    await Promise.resolve();
    g.resolve();
  }
  await Promise.all(tasks);
  assertEquals(peak, 2);
  assertEquals(order, [0, 1, 2, 3, 4]);
});

Deno.test("Semaphore releases its unit when the task throws", async () => {
  const s = new Semaphore(1);
  await s.run(() => Promise.reject(new Error("x"))).catch(() => {});
  assertEquals(await s.run(() => Promise.resolve(7)), 7);
});

Deno.test("Leases count holders and release once", () => {
  const l = new Leases();
  const a = l.hold(["x", "y"]);
  const b = l.hold(["x"]);
  a();
  a();
  assertEquals([l.has("x"), l.has("y")], [true, false]);
  b();
  assertEquals(l.has("x"), false);
});
