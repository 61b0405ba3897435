/** unpackLayer on its own: every compression, diff id checks, and stopping at a failure. */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { unmount } from "../ffi/mount.ts";
import { mountTmpfs } from "../ffi/tmpfs.ts";
import { SauropodError } from "../errors/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { tarBytes, type TarItem } from "../tests/fixtures/_tar_writer.ts";
import { sha256 } from "./_digest.ts";
import type { Compression } from "./_manifest.ts";
import { unpackLayer } from "./_unpack.ts";
import { cannotRun } from "./_test_env.ts";

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

Deno.test({
  name: "unpackLayer() stops at the first failure: work waiting on it never runs",
  ignore: cannotRun() !== undefined,
  sanitizeResources: false, // libc stays open for the process, by design
  async fn() {
    // A 2 MiB file system: the third 900 KiB file fails with ENOSPC. Hardlinks to it and a
    // member replacing it wait for it, so they are queued when it fails; none may run after.
    const items: TarItem[] = [];
    for (let i = 0; i < 3; i++) {
      items.push({ path: `big${i}`, type: "file", data: new Uint8Array(900 << 10).fill(1) });
    }
    for (let i = 0; i < 20; i++) items.push({ path: `h${i}`, type: "hardlink", linkname: "big2" });
    items.push({ path: "big2", type: "file", data: new TextEncoder().encode("replaced") });
    const tar = await tarBytes(items);
    // The three writes run concurrently: on a busy machine another of them may finish last
    // and be the one that fails, and then the work queued on big2 may legitimately have run
    // before the error. The case under test is big2 failing; run the unpack again (on a
    // fresh file system) until it is, at most 20 times.
    for (let attempt = 1;; attempt++) {
      const dir = await Deno.makeTempDir({ prefix: "sauropod-unpack-test-" });
      const dest = `${dir}/fs`;
      await Deno.mkdir(dest);
      mountTmpfs("sauropod-test", dest, "size=2m,mode=0755");
      try {
        await Deno.writeFile(`${dir}/layer`, tar);
        const err = await assertRejects(
          () =>
            unpackLayer({
              blob: `${dir}/layer`,
              compression: "none",
              dest,
              lowers: () => [],
              diffId: sha256(tar),
              logger: nullLogger,
            }),
          SauropodError,
          "No space left on device",
        );
        assertEquals(err.kind, "resource-exhausted");
        if (!err.message.includes('"big2"') && attempt < 20) continue;
        assertStringIncludes(err.message, '"big2"');
        const names = () => [...Deno.readDirSync(dest)].map((e) => e.name).sort();
        assertEquals(names(), ["big0", "big1", "big2"]);
        await new Promise((r) => setTimeout(r, 100));
        assertEquals(names(), ["big0", "big1", "big2"], "and nothing runs after the error");
        assert(Deno.statSync(`${dest}/big2`).size !== 8, "big2 was not replaced after the error");
        return;
      } finally {
        unmount(dest, { detach: true });
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});
