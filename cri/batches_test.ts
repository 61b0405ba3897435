import { assertEquals, assertRejects } from "../testing/assert.ts";
import { Container, ListContainersResponse } from "../api/gen/api.ts";
import { SauropodError } from "../errors/mod.ts";
import { oversizeMessage, repeatedFieldBytes, sendInBatches } from "./batches.ts";

const never = new AbortController().signal;

async function batches<T>(
  items: T[],
  size: (t: T) => number,
  maxItems: number,
  maxBytes: number,
): Promise<T[][]> {
  const out: T[][] = [];
  await sendInBatches(items, size, { maxItems, maxBytes }, never, (b) => {
    out.push(b);
    return Promise.resolve();
  });
  return out;
}

Deno.test("sendInBatches cuts at the item count", async () => {
  const items = Array.from({ length: 12 }, (_, i) => i);
  assertEquals((await batches(items, () => 1, 5, 1 << 20)).map((b) => b.length), [5, 5, 2]);
});

Deno.test("sendInBatches cuts at the byte budget and sends an oversized item alone", async () => {
  // Each item of 10 encoded bytes costs 12 in the message (tag + length + body).
  const items = [10, 10, 10, 100, 10];
  const got = await batches(items, (n) => n, 5000, 30);
  assertEquals(got, [[10, 10], [10], [100], [10]]);
});

Deno.test("sendInBatches sends nothing for an empty list and keeps the order", async () => {
  assertEquals(await batches([], () => 1, 5, 100), []);
  const items = Array.from({ length: 7 }, (_, i) => i);
  assertEquals((await batches(items, () => 1, 3, 100)).flat(), items);
});

Deno.test("sendInBatches stops with CANCELLED when the client goes away", async () => {
  const ac = new AbortController();
  ac.abort();
  const err = await assertRejects(
    () =>
      sendInBatches(
        [1],
        () => 1,
        { maxItems: 1, maxBytes: 10 },
        ac.signal,
        () => Promise.resolve(),
      ),
    SauropodError,
  );
  assertEquals(err.kind, "canceled");
});

Deno.test("the byte budget measures what the encoder sends", () => {
  const containers = Array.from(
    { length: 300 },
    (_, i) => Container.fromPartial({ id: `c${i}`.padEnd(64, "0"), labels: { k: "v".repeat(i) } }),
  );
  const sum = containers.reduce(
    (n, c) => n + repeatedFieldBytes(Container.encode(c).finish().length),
    0,
  );
  assertEquals(sum, ListContainersResponse.encode({ containers }).finish().length);
});

Deno.test("oversizeMessage names the Stream RPC and the sizes, only for lists", () => {
  const msg = oversizeMessage("ListContainers", { containers: [1, 2, 3] }, 2000, 1024);
  assertEquals(
    msg,
    "ListContainers: the answer (2000 bytes, 3 items) exceeds the 1024-byte message limit " +
      "(limits.max_send_message_bytes); use StreamContainers, which sends the same list in parts",
  );
  assertEquals(oversizeMessage("ContainerStatus", {}, 2000, 1024), undefined);
});
