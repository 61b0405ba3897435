import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { messagePrefix, MessageReader, type RawMessage } from "./_message.ts";
import { Status, StatusError } from "./_status.ts";

function frame(body: number[], compressed = false): number[] {
  return [...messagePrefix(body.length, compressed), ...body];
}

function collect(max: number) {
  const got: RawMessage[] = [];
  return { got, reader: new MessageReader(max, (m) => got.push(m)) };
}

Deno.test("messagePrefix() is a flag byte and a big-endian length", () => {
  assertEquals([...messagePrefix(0x01020304)], [0, 1, 2, 3, 4]);
  assertEquals([...messagePrefix(7, true)], [1, 0, 0, 0, 7]);
});

Deno.test("MessageReader splits several messages out of one chunk", () => {
  const { got, reader } = collect(100);
  reader.push(new Uint8Array([...frame([1, 2]), ...frame([]), ...frame([3], true)]));
  assertEquals(got.map((m) => [m.compressed, [...m.data]]), [[false, [1, 2]], [false, []], [true, [
    3,
  ]]]);
  assertEquals(reader.partial, false);
});

Deno.test("MessageReader reassembles a message delivered a byte at a time", () => {
  const { got, reader } = collect(1 << 20);
  const body = Array.from({ length: 70_000 }, (_, i) => i & 0xff);
  const bytes = frame(body);
  for (let i = 0; i < bytes.length; i++) {
    reader.push(new Uint8Array([bytes[i]!]));
    if (i < bytes.length - 1) assertEquals(got.length, 0);
  }
  assertEquals(got.length, 1);
  assertEquals(got[0]!.data, new Uint8Array(body));
});

Deno.test("MessageReader copies what it keeps, so the caller may reuse its buffer", () => {
  const { got, reader } = collect(100);
  const chunk = new Uint8Array(frame([9, 9]));
  reader.push(chunk);
  chunk.fill(0);
  assertEquals([...got[0]!.data], [9, 9]);
});

Deno.test("MessageReader refuses a message over the limit from its prefix alone", () => {
  const { got, reader } = collect(10);
  const err = assertThrows(() => reader.push(messagePrefix(11)), StatusError);
  assertEquals(err.code, Status.RESOURCE_EXHAUSTED);
  assertEquals(err.message, "grpc: received message larger than max (11 vs. 10)");
  assertEquals(got.length, 0);
  // Exactly the limit is fine.
  const ok = collect(10);
  ok.reader.push(new Uint8Array(frame(Array(10).fill(1))));
  assertEquals(ok.got.length, 1);
});

Deno.test("MessageReader rejects a compressed-flag byte other than 0 or 1", () => {
  const { reader } = collect(10);
  assertEquals(
    assertThrows(() => reader.push(new Uint8Array([2, 0, 0, 0, 0])), StatusError).code,
    Status.INTERNAL,
  );
});

Deno.test("MessageReader.partial reports a message cut short", () => {
  const { reader } = collect(10);
  reader.push(new Uint8Array([0, 0, 0]));
  assertEquals(reader.partial, true);
});

Deno.test("MessageReader says how much of a message it holds and how much is missing", () => {
  const r = new MessageReader(1000, () => {});
  assertEquals([r.buffered, r.missing], [0, 0]);
  r.push(new Uint8Array([0, 0, 0]));
  assertEquals([r.buffered, r.missing], [3, 2]);
  r.push(new Uint8Array([0, 100, 1, 2, 3]));
  assertEquals([r.buffered, r.missing], [8, 97]);
  r.reset();
  assertEquals([r.buffered, r.missing, r.partial], [0, 0, false]);
});
