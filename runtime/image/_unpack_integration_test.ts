/** unpackLayer on its own: every compression, diff id checks, and cleanup of refusals. */
import { assertEquals, assertRejects } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { nullLogger } from "../../log/mod.ts";
import { tarBytes, type TarItem } from "../../tests/fixtures/_tar_writer.ts";
import { sha256 } from "./_digest.ts";
import type { Compression } from "./_manifest.ts";
import { unpackLayer } from "./_unpack.ts";
import { cannotRun } from "./_testenv.ts";

const items: TarItem[] = [
  { path: "a/", type: "dir", mode: 0o711 },
  { path: "a/f", type: "file", data: new TextEncoder().encode("content"), mode: 0o600 },
  // Bigger than the in-memory threshold: streamed to disk in pieces.
  { path: "a/big", type: "file", data: new Uint8Array(3 << 20).fill(7) },
  { path: "a/l", type: "symlink", linkname: "f" },
];

async function compress(tar: Uint8Array, how: Compression, dir: string): Promise<string> {
  const path = `${dir}/layer.${how}`;
  if (how === "none") {
    await Deno.writeFile(path, tar);
  } else if (how === "gzip") {
    const gz = new Blob([tar as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new CompressionStream("gzip"),
    );
    await Deno.writeFile(path, gz);
  } else {
    await Deno.writeFile(`${dir}/raw.tar`, tar);
    const out = await new Deno.Command("zstd", {
      args: ["-q", "-f", `${dir}/raw.tar`, "-o", path],
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  }
  return path;
}

Deno.test({
  name: "unpackLayer() unpacks gzip, zstd and uncompressed layers alike",
  ignore: cannotRun() !== undefined,
  async fn() {
    const tar = await tarBytes(items);
    const dir = await Deno.makeTempDir({ prefix: "sauropod-unpack-test-" });
    try {
      for (const how of ["gzip", "zstd", "none"] as const) {
        const blob = await compress(tar, how, dir);
        const dest = `${dir}/${how}`;
        await Deno.mkdir(dest);
        const r = await unpackLayer({
          blob,
          compression: how,
          dest,
          lowers: () => [],
          diffId: sha256(tar),
          logger: nullLogger,
        });
        assertEquals(r.diffId, sha256(tar), how);
        assertEquals(r.tarBytes, tar.length, how);
        assertEquals(await Deno.readTextFile(`${dest}/a/f`), "content", how);
        assertEquals((await Deno.stat(`${dest}/a/f`)).mode! & 0o7777, 0o600, how);
        assertEquals((await Deno.stat(`${dest}/a`)).mode! & 0o7777, 0o711, how);
        assertEquals((await Deno.stat(`${dest}/a/big`)).size, 3 << 20, how);
        assertEquals(await Deno.readLink(`${dest}/a/l`), "f", how);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "unpackLayer() refuses content that does not match the config's diff id",
  ignore: cannotRun() !== undefined,
  async fn() {
    const tar = await tarBytes(items);
    const dir = await Deno.makeTempDir({ prefix: "sauropod-unpack-test-" });
    try {
      const blob = await compress(tar, "gzip", dir);
      await Deno.mkdir(`${dir}/out`);
      const err = await assertRejects(
        () =>
          unpackLayer({
            blob,
            compression: "gzip",
            dest: `${dir}/out`,
            lowers: () => [],
            diffId: sha256("something else"),
            logger: nullLogger,
          }),
        SauropodError,
        "diff id",
      );
      assertEquals(err.kind, "invalid-argument");
      const notGzip = await assertRejects(
        () =>
          unpackLayer({
            blob: `${dir}/layer.gzip`,
            compression: "zstd",
            dest: `${dir}/out`,
            lowers: () => [],
            diffId: sha256(tar),
            logger: nullLogger,
          }),
        SauropodError,
      );
      assertEquals(notGzip.kind, "invalid-argument");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
