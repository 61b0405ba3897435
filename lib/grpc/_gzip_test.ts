import { assertEquals, assertRejects } from "../../testing/assert.ts";
import { gunzip } from "./_gzip.ts";
import { Status, StatusError } from "./_status.ts";

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test("gunzip() restores a gzip message", async () => {
  const data = new TextEncoder().encode("hello ".repeat(1000));
  assertEquals(await gunzip(await gzip(data), 10_000), data);
});

Deno.test("gunzip() stops a message that expands past the limit (zip bomb)", async () => {
  const bomb = await gzip(new Uint8Array(1 << 20));
  const err = await assertRejects(() => gunzip(bomb, 64 * 1024), StatusError);
  assertEquals(err.code, Status.RESOURCE_EXHAUSTED);
});

Deno.test("gunzip() reports corrupt data as INTERNAL", async () => {
  const err = await assertRejects(() => gunzip(new Uint8Array([1, 2, 3, 4]), 100), StatusError);
  assertEquals(err.code, Status.INTERNAL);
});
