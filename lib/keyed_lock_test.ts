import { assertEquals } from "../testing/assert.ts";
import { KeyedLock } from "./keyed_lock.ts";

const tick = () => new Promise<void>((r) => queueMicrotask(r));

Deno.test("KeyedLock serialises calls on one key", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const a = lock.run("pod", async () => {
    order.push("a start");
    await gate;
    order.push("a end");
  });
  const b = lock.run("pod", () => {
    order.push("b");
    return Promise.resolve();
  });
  await tick();
  await tick();
  assertEquals(order, ["a start"]);
  release();
  await Promise.all([a, b]);
  assertEquals(order, ["a start", "a end", "b"]);
  assertEquals(lock.size, 0);
});

Deno.test("KeyedLock lets different keys run in parallel and survives a throwing holder", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const a = lock.run("x", async () => {
    await gate;
    throw new Error("boom");
  });
  await lock.run("y", () => {
    order.push("y");
    return Promise.resolve();
  });
  assertEquals(order, ["y"]);
  release();
  await a.catch(() => order.push("a failed"));
  await lock.run("x", () => Promise.resolve(order.push("x again")));
  assertEquals(order, ["y", "a failed", "x again"]);
});

Deno.test("KeyedLock.runAll() takes keys in sorted order", async () => {
  const lock = new KeyedLock();
  const got = await Promise.all([
    lock.runAll(["b", "a"], () => Promise.resolve(1)),
    lock.runAll(["a", "b"], () => Promise.resolve(2)),
  ]);
  assertEquals(got, [1, 2]);
  assertEquals(lock.size, 0);
});
