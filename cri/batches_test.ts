import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { Container, ListContainersResponse, StreamContainersResponse } from "../api/gen/api.ts";
import { SauropodError } from "../errors/mod.ts";
import { oversizeMessage, PreEncoded, sendInBatches } from "./batches.ts";

const never = new AbortController().signal;

/** A Stream*Response of items of `sizes` bytes (field 1, length-delimited), as encoded. */
function message(sizes: number[]): Uint8Array {
  const out: number[] = [];
  sizes.forEach((n, i) => {
    out.push(0x0a);
    for (let v = n;; v = Math.floor(v / 128)) {
      if (v < 128) {
        out.push(v);
        break;
      }
      out.push((v % 128) | 0x80);
    }
    for (let k = 0; k < n; k++) out.push(i);
  });
  return new Uint8Array(out);
}

async function batches(msg: Uint8Array, maxItems: number, maxBytes: number): Promise<PreEncoded[]> {
  const out: PreEncoded[] = [];
  await sendInBatches(msg, { maxItems, maxBytes }, never, (m) => {
    out.push(m);
    return Promise.resolve();
  });
  return out;
}

/** The item lengths of a message in wire form. */
function itemsOf(m: PreEncoded): number[] {
  const out: number[] = [];
  for (let at = 0; at < m.bytes.length;) {
    assertEquals(m.bytes[at++], 0x0a, "field 1, wire type 2");
    let len = 0;
    for (let shift = 1;; shift *= 128) {
      const b = m.bytes[at++]!;
      len += (b & 0x7f) * shift;
      if (b < 0x80) break;
    }
    out.push(len);
    at += len;
  }
  return out;
}

Deno.test("sendInBatches cuts at the item count", async () => {
  const got = await batches(message(Array(12).fill(1)), 5, 1 << 20);
  assertEquals(got.map((m) => itemsOf(m).length), [5, 5, 2]);
});

Deno.test("sendInBatches cuts at the byte budget and sends an oversized item alone", async () => {
  // An item of 10 bytes costs 12 in the message (tag, length, body); 200 bytes cost 203.
  const got = await batches(message([10, 10, 10, 200, 10]), 5000, 30);
  assertEquals(got.map(itemsOf), [[10, 10], [10], [200], [10]]);
  assertEquals(got.map((m) => m.bytes.length), [24, 12, 203, 12]);
});

Deno.test("sendInBatches sends nothing for an empty list, and refuses a cut message", async () => {
  assertEquals(await batches(new Uint8Array(0), 5, 100), []);
  const cut = message([10]).subarray(0, 6);
  const err = await assertRejects(() => batches(cut, 5, 100), SauropodError);
  assertEquals(err.kind, "internal");
});

Deno.test("sendInBatches stops with CANCELLED when the client goes away", async () => {
  const ac = new AbortController();
  ac.abort();
  const err = await assertRejects(
    () =>
      sendInBatches(
        message([1]),
        { maxItems: 1, maxBytes: 10 },
        ac.signal,
        () => Promise.resolve(),
      ),
    SauropodError,
  );
  assertEquals(err.kind, "canceled");
});

Deno.test("each batch decodes to its slice of the list, in order, as the encoder wrote it", async () => {
  const containers = Array.from(
    { length: 300 },
    (_, i) => Container.fromPartial({ id: `c${i}`.padEnd(64, "0"), labels: { k: "v".repeat(i) } }),
  );
  const whole = StreamContainersResponse.encode({ containers }).finish();
  const sent = await batches(whole, 120, 15 << 20);
  assertEquals(sent.length, 3);
  const decoded = sent.map((m) => StreamContainersResponse.decode(m.bytes).containers);
  assertEquals(decoded.map((l) => l.length), [120, 120, 60]);
  assertEquals(decoded.flat(), containers);
  assertEquals(
    sent[0]!.bytes,
    ListContainersResponse.encode({ containers: containers.slice(0, 120) }).finish(),
  );
  // A byte budget: every message within it, and together the whole list.
  const small = await batches(whole, 5000, 4096);
  assert(small.length > 3 && small.every((m) => m.bytes.length <= 4096));
  assertEquals(
    small.flatMap((m) => StreamContainersResponse.decode(m.bytes).containers),
    containers,
  );
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
