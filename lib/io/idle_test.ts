import { assert, assertEquals } from "../../testing/assert.ts";
import { IdleTimer } from "./idle.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("IdleTimer fires once after the timeout with no activity", async () => {
  let fired = 0;
  const t = new IdleTimer(20, () => fired++);
  t.start();
  t.start(); // a second start does not arm a second timer
  await sleep(80);
  assertEquals(fired, 1);
  t.stop();
});

Deno.test("IdleTimer: activity pushes the timeout back; stop() cancels it", async () => {
  let fired = 0;
  // Wide margins: a busy machine may stall a sleep by far more than it asked.
  const t = new IdleTimer(300, () => fired++);
  t.start();
  for (let i = 0; i < 8; i++) {
    await sleep(50);
    t.touch();
  }
  assertEquals(fired, 0, "touched every 50 ms: never idle for 300 ms");
  t.stop();
  await sleep(350);
  assertEquals(fired, 0);
});

Deno.test("IdleTimer with a timeout of 0 never fires", async () => {
  let fired = false;
  const t = new IdleTimer(0, () => fired = true);
  t.start();
  await sleep(20);
  assert(!fired);
  t.stop();
});
