/**
 * The checkpoint archive without CRIU: a synthetic CRIU image directory and a real overlay
 * upper directory (files, a symlink, a whiteout, an opaque directory) go through the
 * writer, and the result is read back member by member with the image layers' tar reader
 * (the layout checkpointctl, CRI-O and containerd read: names, JSON keys, mode 0600), then
 * through the restore's reader and rootfs-diff applier. Hostile archives are refused
 * naming what is wrong, and leave nothing outside the directory they were read into.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { isInvalidArgument } from "../errors/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { applyRootfsDiff, TarReader } from "../image/mod.ts";
import { makeNodeAtSync, openPath, setXattrAt } from "../ffi/beneath.ts";
import { readCheckpointArchive, writeArchive, writeRootfsDiff } from "./mod.ts";
import { TarWriter } from "./_tar_writer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function members(path: string): Promise<Map<string, Uint8Array>> {
  using f = await Deno.open(path, { read: true });
  const out = new Map<string, Uint8Array>();
  const r = new TarReader(f.readable);
  for (let e = await r.next(); e; e = await r.next()) {
    const parts: Uint8Array[] = [];
    for await (const c of r.body()) parts.push(c.slice());
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) all.set(p, off), off += p.length;
    out.set(e.type === "dir" ? `${e.path.replace(/\/$/, "")}/` : e.path, all);
  }
  return out;
}

async function syntheticCheckpoint(dir: string): Promise<{ location: string; upper: string }> {
  const images = `${dir}/images`;
  const work = `${dir}/work`;
  const upper = `${dir}/upper`;
  for (const d of [images, work, upper]) await Deno.mkdir(d);
  await Deno.writeFile(`${images}/inventory.img`, new Uint8Array([0x54, 0x4c, 0x4f, 0x58]));
  await Deno.writeFile(`${images}/pages-1.img`, new Uint8Array(8192).fill(7));
  await Deno.writeTextFile(`${images}/descriptors.json`, '["/dev/null","pipe:[1]","pipe:[1]"]');
  await Deno.writeTextFile(`${work}/dump.log`, "(00.000) Dumping finished successfully\n");
  await Deno.writeFile(`${work}/stats-dump`, new Uint8Array([1, 2, 3]));
  // The writable layer: an added file, a changed dir, a symlink, a mount point, a whiteout
  // and an opaque directory.
  await Deno.mkdir(`${upper}/data/sub`, { recursive: true });
  await Deno.writeTextFile(`${upper}/data/sub/counter`, "41\n");
  await Deno.symlink("sub/counter", `${upper}/data/link`);
  await Deno.writeTextFile(`${upper}/etc-hosts-mountpoint`, "");
  await Deno.mkdir(`${upper}/etc`);
  {
    using etc = openPath(`${upper}/etc`);
    makeNodeAtSync(etc, "motd", 0o20000 | 0o600, 0, 0);
  }
  await Deno.mkdir(`${upper}/var`);
  await Deno.mkdir(`${upper}/var/cache`);
  {
    using v = openPath(`${upper}/var`);
    setXattrAt(v, "cache", "trusted.overlay.opaque", enc.encode("y"));
  }
  await Deno.writeTextFile(`${upper}/var/cache/new`, "fresh");
  await Deno.writeTextFile(`${dir}/0.log`, "2026-12-07T00:00:00Z stdout F 41\n");
  const diff = await writeRootfsDiff(upper, `${dir}/rootfs-diff.tar`, ["/etc-hosts-mountpoint"]);
  const location = `${dir}/out.tar`;
  await writeArchive(location, {
    imageDir: images,
    workDir: work,
    config: {
      id: "a".repeat(64),
      name: "counter",
      rootfsImage: "busybox:latest",
      rootfsImageRef: "127.0.0.1:5000/busybox@sha256:" + "b".repeat(64),
      rootfsImageName: "127.0.0.1:5000/busybox:latest",
      runtime: "runc",
      createdTime: "2026-12-07T21:00:00.123456789Z",
      checkpointedTime: "2026-12-07T21:01:00Z",
      restoredTime: "0001-01-01T00:00:00Z",
      restored: false,
    },
    spec: enc.encode(JSON.stringify({ ociVersion: "1.0.2", process: { terminal: false } })),
    status: { id: "a".repeat(64), metadata: { name: "counter" }, state: 1 },
    options: { tcpEstablished: true, extUnixSk: true, shellJob: false, fileLocks: true },
    rootfsDiffTar: `${dir}/rootfs-diff.tar`,
    deleted: diff.deleted,
    bindMounts: [],
    logPath: `${dir}/0.log`,
  });
  return { location, upper };
}

Deno.test("checkpoint archive: the layout checkpointctl, CRI-O and containerd read, 0600, and the writable layer's changes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { location } = await syntheticCheckpoint(dir);
    assertEquals((await Deno.stat(location)).mode! & 0o777, 0o600);
    assertEquals([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")), []);
    const m = await members(location);
    assertEquals([...m.keys()].sort(), [
      "checkpoint/",
      "checkpoint/descriptors.json",
      "checkpoint/inventory.img",
      "checkpoint/pages-1.img",
      "config.dump",
      "container.log",
      "deleted.files",
      "dump.log",
      "rootfs-diff.tar",
      "sauropod.options",
      "spec.dump",
      "stats-dump",
      "status.dump",
    ]);
    const config = JSON.parse(dec.decode(m.get("config.dump")));
    for (const k of ["id", "name", "rootfsImageName", "rootfsImageRef", "runtime", "createdTime"]) {
      assert(typeof config[k] === "string" && config[k] !== "", `config.dump has ${k}`);
    }
    assertEquals(m.get("stats-dump"), new Uint8Array([1, 2, 3]), "CRIU's stats, byte for byte");
    // Deletions: the whiteout, and the opaque directory (whose new content is in the tar).
    assertEquals(JSON.parse(dec.decode(m.get("deleted.files"))), ["/etc/motd", "/var/cache"]);
    await Deno.writeFile(`${dir}/diff.tar`, m.get("rootfs-diff.tar")!);
    const diff = [...(await members(`${dir}/diff.tar`)).keys()].sort();
    assertEquals(diff, [
      "data/",
      "data/link",
      "data/sub/",
      "data/sub/counter",
      "etc/",
      "var/",
      "var/cache/",
      "var/cache/new",
    ], "the mount point is not archived");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint archive: read back for a restore, its diff applied to a new writable layer", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { location } = await syntheticCheckpoint(dir);
    const ck = await readCheckpointArchive(location, `${dir}/restore`);
    assertEquals(ck.config.name, "counter");
    assertEquals(ck.options, {
      tcpEstablished: true,
      extUnixSk: true,
      shellJob: false,
      fileLocks: true,
    });
    assertEquals(ck.deleted, ["/etc/motd", "/var/cache"]);
    assert((await Deno.stat(`${dir}/restore/checkpoint/pages-1.img`)).isFile);
    await Deno.mkdir(`${dir}/newupper`);
    await applyRootfsDiff(ck.rootfsDiff!, `${dir}/newupper`, [], nullLogger);
    assertEquals(await Deno.readTextFile(`${dir}/newupper/data/sub/counter`), "41\n");
    assertEquals(await Deno.readLink(`${dir}/newupper/data/link`), "sub/counter");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function hostile(dir: string, name: string, build: (t: TarWriter) => Promise<void>) {
  const path = `${dir}/${name}.tar`;
  {
    using f = await Deno.open(path, { write: true, create: true });
    const t = new TarWriter(f);
    await build(t);
    await t.finish();
  }
  return path;
}

Deno.test("checkpoint archive: corrupt, foreign and hostile archives are invalid-argument naming the problem, and write nothing outside", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = { type: "file" as const, mode: 0o644 };
    const ok = async (t: TarWriter) => {
      await t.add({ ...file, name: "config.dump" }, enc.encode('{"id":"x","name":"y"}'));
      await t.add({ ...file, name: "spec.dump" }, enc.encode("{}"));
      await t.add({ ...file, name: "checkpoint/inventory.img" }, enc.encode("x"));
    };
    await Deno.writeFile(`${dir}/garbage.tar`, crypto.getRandomValues(new Uint8Array(4096)));
    const cases: [string, string][] = [
      [`${dir}/garbage.tar`, "checkpoint archive"],
      [
        await hostile(dir, "foreign", async (t) => {
          await t.add({ ...file, name: "config.dump" }, enc.encode('{"id":"x","name":"y"}'));
        }),
        "is not a checkpoint",
      ],
      [
        await hostile(dir, "dotdot", async (t) => {
          await ok(t);
          await t.add({ ...file, name: "../escaped" }, enc.encode("x"));
        }),
        "not part of a checkpoint",
      ],
      [
        await hostile(dir, "deep", async (t) => {
          await ok(t);
          await t.add({ ...file, name: "checkpoint/a/b" }, enc.encode("x"));
        }),
        "not part of a checkpoint",
      ],
      [
        await hostile(dir, "symlink", async (t) => {
          await t.add({
            type: "symlink",
            mode: 0o777,
            name: "config.dump",
            linkname: "/etc/shadow",
          });
          await ok(t);
        }),
        "not a file",
      ],
      [
        await hostile(dir, "twice", async (t) => {
          await ok(t);
          await t.add({ ...file, name: "spec.dump" }, enc.encode("{}"));
        }),
        "appears twice",
      ],
      [
        await hostile(dir, "badjson", async (t) => {
          await t.add({ ...file, name: "config.dump" }, enc.encode("{nope"));
          await t.add({ ...file, name: "spec.dump" }, enc.encode("{}"));
          await t.add({ ...file, name: "checkpoint/inventory.img" }, enc.encode("x"));
        }),
        "config.dump is not valid JSON",
      ],
      [
        await hostile(dir, "noname", async (t) => {
          await t.add({ ...file, name: "config.dump" }, enc.encode('{"id":"x"}'));
          await t.add({ ...file, name: "spec.dump" }, enc.encode("{}"));
          await t.add({ ...file, name: "checkpoint/inventory.img" }, enc.encode("x"));
        }),
        'no "name"',
      ],
    ];
    let i = 0;
    for (const [path, text] of cases) {
      const dest = `${dir}/dest${i++}`;
      const err = await assertRejects(() => readCheckpointArchive(path, dest));
      assert(isInvalidArgument(err), `${path}: ${err}`);
      assertStringIncludes(String(err), text);
    }
    const big = await hostile(dir, "big", async (t) => {
      await ok(t);
      await t.add({ ...file, name: "checkpoint/pages-1.img" }, new Uint8Array(64 << 10));
    });
    const err = await assertRejects(() =>
      readCheckpointArchive(big, `${dir}/destbig`, {
        totalBytes: 32 << 10,
        members: 100,
        jsonBytes: 1024,
      })
    );
    assertStringIncludes(String(err), "more than");
    const many = await hostile(dir, "many", async (t) => {
      await ok(t);
      for (let k = 0; k < 20; k++) {
        await t.add({ ...file, name: `checkpoint/p${k}` }, enc.encode("x"));
      }
    });
    const err2 = await assertRejects(() =>
      readCheckpointArchive(many, `${dir}/destmany`, {
        totalBytes: 1 << 20,
        members: 10,
        jsonBytes: 1024,
      })
    );
    assertStringIncludes(String(err2), "more than 10 members");
    await assertRejects(() => Deno.stat(`${dir}/escaped`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
