// test-permissions: --allow-read=/tmp --allow-write=/tmp --allow-net
import { assertEquals } from "../../testing/assert.ts";
import { smallChunks } from "./small_chunks.ts";

/** A unix socket listener in a temp dir (removed by `close`), as the shim's control socket. */
async function unixListener() {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-chunks-" });
  const path = `${dir}/s`;
  const listener = Deno.listen({ transport: "unix", path });
  return {
    listener,
    connect: () => Deno.connect({ transport: "unix", path }),
    close: async () => {
      listener.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("smallChunks() passes every byte in chunks of at most `size`, then ends", async () => {
  const { listener, connect, close } = await unixListener();
  const payload = new Uint8Array(10_000).map((_, i) => i % 251);
  const server = (async () => {
    const c = await listener.accept();
    for (let off = 0; off < payload.length;) off += await c.write(payload.subarray(off));
    c.close();
  })();
  const conn = await connect();
  const chunks = await Array.fromAsync(smallChunks(conn, 1024));
  await server;
  conn.close();
  await close();
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
  const { listener, connect, close } = await unixListener();
  const accepted = listener.accept();
  const conn = await connect();
  const peer = await accepted;
  const reader = smallChunks(conn).getReader();
  const pending = reader.read();
  conn.close();
  assertEquals((await pending).done, true);
  peer.close();
  await close();
});
