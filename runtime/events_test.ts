import { assertEquals } from "../testing/assert.ts";
import { EventBus } from "./events.ts";

Deno.test("EventBus delivers to every subscriber in order", async () => {
  const bus = new EventBus<number>();
  const a = bus.subscribe();
  const b = bus.subscribe();
  bus.publish(1);
  bus.publish(2);
  const got: number[] = [];
  for await (const e of a) {
    got.push(e);
    if (got.length === 2) break;
  }
  assertEquals(got, [1, 2]);
  assertEquals(bus.subscribers, 1);
  b.close();
  assertEquals(bus.subscribers, 0);
});

Deno.test("EventBus drops the oldest events of a slow subscriber and counts them", async () => {
  const bus = new EventBus<number>(2);
  const s = bus.subscribe();
  for (const n of [1, 2, 3, 4]) bus.publish(n);
  assertEquals(s.dropped, 2);
  // The bus keeps the total across subscribers, closed ones included (the agent's metric).
  const other = bus.subscribe();
  for (const n of [5, 6, 7]) bus.publish(n);
  other.close();
  assertEquals(bus.dropped, 2 + 3 + 1);
  const it = s[Symbol.asyncIterator]();
  assertEquals((await it.next()).value, 6);
  assertEquals((await it.next()).value, 7);
  s.close();
  assertEquals((await it.next()).done, true);
});

Deno.test("EventBus.subscribe() ends when its signal aborts", async () => {
  const bus = new EventBus<number>();
  const ac = new AbortController();
  const s = bus.subscribe(ac.signal);
  const pending = s[Symbol.asyncIterator]().next();
  ac.abort();
  assertEquals((await pending).done, true);
  assertEquals(bus.subscribers, 0);
});
