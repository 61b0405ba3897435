import { assertEquals } from "../../testing/assert.ts";
import { smallChunks } from "./small_chunks.ts";

Deno.test("smallChunks() passes every byte in chunks of at most `size`, then ends", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const payload = new Uint8Array(10_000).map((_, i) => i % 251);
  const server = (async () => {
    const c = await listener.accept();
    for (let off = 0; off < payload.length;) off += await c.write(payload.subarray(off));
    c.close();
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks = await Array.fromAsync(smallChunks(conn, 1024));
  await server;
  conn.close();
  listener.close();
  assertEquals(chunks.every((c) => c.byteLength <= 1024), true);
  // A chunk keeps no bigger buffer alive than its own bytes (or `size`).
  assertEquals(chunks.every((c) => c.buffer.byteLength <= 1024), true);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  assertEquals(all, payload);
});

Deno.test("smallChunks() ends when its connection is closed under a pending read", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const accepted = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const peer = await accepted;
  const reader = smallChunks(conn).getReader();
  const pending = reader.read();
  conn.close();
  assertEquals((await pending).done, true);
  peer.close();
  listener.close();
});
