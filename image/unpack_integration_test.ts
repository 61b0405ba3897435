/**
 * Unpacking and root file systems, checked the way a container sees them: through the
 * overlay mount (and, for read-only roots, through runc).
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { lgetxattr } from "../ffi/fsnode.ts";
import { makedev } from "../ffi/beneath.ts";
import {
  DEEP_LAYERS,
  HOSTILE_TARGET,
  LINKS_LAYER,
  testRegistry,
  WHITEOUT_EXPECTED,
} from "../tests/fixtures/images.ts";
import { mountsAt } from "./_mountinfo.ts";
import { cannotRun, mountsUnder, openTestService, type TestService } from "./_test_env.ts";
import type { ImageRecord } from "./mod.ts";

const ignore = cannotRun();

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Mounts `img` for container `id` under the test root; returns the rootfs path. */
async function mounted(ts: TestService, id: string, img: ImageRecord, readonly = false) {
  const target = `${ts.root}/containers/${id}/rootfs`;
  await Deno.mkdir(target, { recursive: true });
  const { upperDir } = await ts.svc.mountRootfs(id, img, target, { readonly });
  return { target, upperDir };
}

async function walk(dir: string, prefix = ""): Promise<Record<string, "file" | "dir">> {
  const out: Record<string, "file" | "dir"> = {};
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    out[rel] = e.isDirectory ? "dir" : "file";
    if (e.isDirectory) Object.assign(out, await walk(`${dir}/${e.name}`, `${rel}/`));
  }
  return out;
}

Deno.test({
  name: "image unpacking and container root file systems",
  ignore: ignore !== undefined,
  sanitizeResources: false,
  async fn(t) {
    await using env = await testRegistry();
    const img = env.images;

    await t.step("files keep modes, owners, times, links, devices and xattrs", async () => {
      await using ts = await openTestService();
      const rec = await ts.svc.pull(img.links.ref);
      const { target: r } = await mounted(ts, "fidelity", rec);
      try {
        const L = LINKS_LAYER;
        const f = await Deno.lstat(`${r}/${L.file.path}`);
        assertEquals(f.mode! & 0o7777, L.file.mode);
        assertEquals([f.uid, f.gid], [L.file.uid, L.file.gid]);
        assertEquals(f.mtime!.getTime() / 1000, L.file.mtime);
        assertEquals(await Deno.readTextFile(`${r}/${L.file.path}`), L.file.data);
        assertEquals(f.nlink, 3);
        for (const h of L.hardlinks) assertEquals((await Deno.lstat(`${r}/${h}`)).ino, f.ino, h);
        for (const [p, target] of Object.entries(L.symlinks)) {
          assertEquals(await Deno.readLink(`${r}/${p}`), target, p);
        }
        const suid = await Deno.lstat(`${r}/${L.setuid.path}`);
        assertEquals(suid.mode! & 0o7777, L.setuid.mode);
        const priv = await Deno.lstat(`${r}/${L.privateDir.path}`);
        assertEquals([priv.mode! & 0o7777, priv.uid, priv.gid], [0o700, 1000, 1000]);
        assert((await Deno.lstat(`${r}/${L.fifo}`)).isFifo, "fifo");
        const dev = await Deno.lstat(`${r}/${L.device.path}`);
        assert(dev.isCharDevice, "char device");
        assertEquals(BigInt(dev.rdev!), makedev(L.device.major, L.device.minor));
        assertEquals(
          new TextDecoder().decode(lgetxattr(`${r}/${L.xattr.path}`, L.xattr.name)),
          L.xattr.value,
        );
        assertEquals(await Deno.readTextFile(`${r}/${L.longPath}`), "long");
        const owned = await Deno.lstat(`${r}/${L.ownedSymlink.path}`);
        assertEquals([owned.uid, owned.gid], [1000, 1000]);
        assertEquals(owned.mtime!.getTime() / 1000, L.ownedSymlink.mtime);
        // The base layer: busybox applets are hard links to one binary.
        const bb = await Deno.lstat(`${r}/bin/busybox`);
        assertEquals((await Deno.lstat(`${r}/bin/sh`)).ino, bb.ino);
        assert(bb.nlink! > 100, `busybox has ${bb.nlink} links`);
        assertEquals((await Deno.lstat(`${r}/tmp`)).mode! & 0o7777, 0o1777);
      } finally {
        await ts.svc.unmountRootfs("fidelity", r);
      }
    });

    await t.step("whiteouts and opaque directories hide lower layers", async () => {
      await using ts = await openTestService();
      const rec = await ts.svc.pull(img.whiteouts.ref);
      const { target } = await mounted(ts, "wh", rec);
      try {
        assertEquals(await walk(`${target}/w`), WHITEOUT_EXPECTED);
        assertEquals(await Deno.readTextFile(`${target}/w/o/z`), "z");
      } finally {
        await ts.svc.unmountRootfs("wh", target);
      }
      // On disk the deletions are overlay whiteouts: 0/0 character devices and an xattr.
      // Layer 2 is the one that added w/o/z.
      const layer2 = ts.snapshotDirs().map((n) => `${ts.root}/snapshots/${n}/fs`)
        .find((d) => existsSync(`${d}/w/o/z`))!;
      const wh = await Deno.lstat(`${layer2}/w/a`);
      assert(wh.isCharDevice && wh.rdev === 0, "w/a is a whiteout device");
      assertEquals(
        new TextDecoder().decode(lgetxattr(`${layer2}/w/o`, "trusted.overlay.opaque")),
        "y",
      );
    });

    await t.step("hostile layers are refused and nothing is written anywhere", async () => {
      await Deno.mkdir(HOSTILE_TARGET, { recursive: true });
      try {
        await using ts = await openTestService();
        for (const [kind, p] of Object.entries(img.hostile)) {
          const err = await assertRejects(() => ts.svc.pull(p.ref), SauropodError);
          assertEquals(err.kind, "invalid-argument", `${kind}: ${err.message}`);
        }
        assertEquals([...Deno.readDirSync(HOSTILE_TARGET)], [], "nothing escaped");
        assertEquals(ts.svc.list(), []);
        assertEquals(ts.snapshotDirs(), [], "no half-unpacked snapshot is left");
        assertEquals(ts.ingest(), []);
        // The store still works after refusing them.
        assertEquals((await ts.svc.pull(img.pause.ref)).id, img.pause.id);
      } finally {
        await Deno.remove(HOSTILE_TARGET, { recursive: true });
      }
    });

    await t.step(`a ${DEEP_LAYERS}-layer image stacks in order`, async () => {
      await using ts = await openTestService();
      const rec = await ts.svc.pull(img.deep.ref);
      assertEquals(rec.chainIds.length, DEEP_LAYERS);
      const { target } = await mounted(ts, "deep", rec);
      try {
        assertEquals(await Deno.readTextFile(`${target}/deep/top`), `${DEEP_LAYERS - 1}\n`);
        assertEquals(Object.keys(await walk(`${target}/deep`)).length, DEEP_LAYERS);
      } finally {
        await ts.svc.unmountRootfs("deep", target);
      }
    });

    await t.step("mount and unmount are idempotent and leave nothing behind", async () => {
      await using ts = await openTestService();
      const rec = await ts.svc.pull(img.busybox.ref);
      const { target, upperDir } = await mounted(ts, "idem", rec);
      await ts.svc.mountRootfs("idem", rec, target, { readonly: false });
      assertEquals(await mountsAt(target), 1);
      // Writes land in the container's own layer; deletions become whiteouts there.
      await Deno.writeTextFile(`${target}/new-file`, "data");
      await Deno.remove(`${target}/etc/os-release`);
      assertEquals(await Deno.readTextFile(`${upperDir}/new-file`), "data");
      assert((await Deno.lstat(`${upperDir}/etc/os-release`)).isCharDevice);
      assertEquals(ts.snapshotDirs().length, 2);
      await ts.svc.unmountRootfs("idem", target);
      await ts.svc.unmountRootfs("idem", target);
      await ts.svc.unmountRootfs("never-mounted", `${ts.root}/nowhere`);
      assertEquals(mountsUnder(ts.root), []);
      assertEquals(ts.snapshotDirs().length, 1, "only the image layer remains");
    });

    await t.step("a read-only rootfs refuses writes from the container (runc)", async () => {
      await using ts = await openTestService();
      const rec = await ts.svc.pull(img.busybox.ref);
      for (const readonly of [true, false]) {
        const id = `ro-${readonly}-${crypto.randomUUID().slice(0, 8)}`;
        const { target, upperDir } = await mounted(ts, id, rec, readonly);
        try {
          const r = await runc(ts.root, id, target, readonly, ["sh", "-c", "echo x > /written"]);
          if (readonly) {
            assert(!r.ok, "the write must fail");
            assertStringIncludes(r.stderr, "Read-only file system");
          } else {
            assert(r.ok, r.stderr);
            assertEquals(await Deno.readTextFile(`${upperDir}/written`), "x\n");
          }
        } finally {
          await ts.svc.unmountRootfs(id, target);
        }
      }
    });
  },
});

/** Runs `args` in a container on `rootfs` with runc (foreground, cleaned up on exit). */
async function runc(
  root: string,
  id: string,
  rootfs: string,
  readonly: boolean,
  args: string[],
): Promise<{ ok: boolean; stderr: string }> {
  const bundle = `${root}/containers/${id}`;
  const spec = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args,
      env: ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
      cwd: "/",
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly },
    hostname: id,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"] },
    ],
    linux: {
      cgroupsPath: `/sauropod-image-test-${id}`,
      namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
    },
  };
  await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec));
  const state = `${root}/runc-state`;
  const out = await new Deno.Command("runc", {
    args: ["--root", state, "run", "--bundle", bundle, id],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  // `runc run` deletes the container when its process exits; make sure even on failure.
  await new Deno.Command("runc", { args: ["--root", state, "delete", "--force", id] }).output();
  return {
    ok: out.success,
    stderr: new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout),
  };
}
