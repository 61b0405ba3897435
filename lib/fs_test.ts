// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { atomicWrite, atomicWriteSync } from "./fs.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-fs-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("atomicWrite() replaces a file whole, with the mode asked, and leaves no temp file", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "old");
    await atomicWrite(`${dir}/f`, "new content");
    assertEquals(await Deno.readTextFile(`${dir}/f`), "new content");
    assertEquals((await Deno.stat(`${dir}/f`)).mode! & 0o777, 0o600);
    await atomicWrite(`${dir}/g`, new Uint8Array([1, 2, 3]), { mode: 0o644 });
    assertEquals((await Deno.stat(`${dir}/g`)).mode! & 0o777, 0o644);
    // Exactly the mode asked: the umask (022 here) does not narrow it.
    await atomicWrite(`${dir}/h`, "x", { mode: 0o666 });
    assertEquals((await Deno.stat(`${dir}/h`)).mode! & 0o777, 0o666);
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "f",
      "g",
      "h",
    ]);
  }));

Deno.test("atomicWrite() with durable: false still replaces whole, with the mode asked", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/config.json`, "old");
    await atomicWrite(`${dir}/config.json`, "{}", { mode: 0o600, durable: false });
    assertEquals(await Deno.readTextFile(`${dir}/config.json`), "{}");
    assertEquals((await Deno.stat(`${dir}/config.json`)).mode! & 0o777, 0o600);
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["config.json"]);
  }));

Deno.test("atomicWrite() with a writer that throws leaves the old file and no temp file", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/f`, "old");
    await Deno.mkdir(`${dir}/staging`);
    await assertRejects(
      () =>
        atomicWrite(`${dir}/f`, async (f) => {
          await f.write(new TextEncoder().encode("half"));
          throw new Error("digest mismatch");
        }, { tmpDir: `${dir}/staging` }),
      Error,
      "digest mismatch",
    );
    assertEquals(await Deno.readTextFile(`${dir}/f`), "old");
    assertEquals(await Array.fromAsync(Deno.readDir(`${dir}/staging`)), []);
  }));

Deno.test("atomicWriteSync() writes the same way without a promise", () =>
  withDir(async (dir) => {
    atomicWriteSync(`${dir}/exit.json`, '{"exitCode":0}\n', { mode: 0o644 });
    assertEquals(await Deno.readTextFile(`${dir}/exit.json`), '{"exitCode":0}\n');
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["exit.json"]);
  }));
