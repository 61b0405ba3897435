/**
 * The image store over time: removal, garbage collection, usage, restarts and recovery
 * from an interrupted pull.
 */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { testRegistry } from "../tests/fixtures/images.ts";
import { ImageDb } from "./_store.ts";
import { cannotRun, openTestService } from "./_test_env.ts";

const ignore = cannotRun();

/** Points `toRepo:toTag` at the manifest of `fromRepo:fromTag` (mounting its blobs). */
async function retag(
  host: string,
  fromRepo: string,
  fromTag: string,
  toRepo: string,
  toTag: string,
) {
  const accept = "application/vnd.oci.image.manifest.v1+json";
  const res = await fetch(`http://${host}/v2/${fromRepo}/manifests/${fromTag}`, {
    headers: { accept },
  });
  const body = new Uint8Array(await res.arrayBuffer());
  const m = JSON.parse(new TextDecoder().decode(body)) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) {
    const r = await fetch(
      `http://${host}/v2/${toRepo}/blobs/uploads/?mount=${d}&from=${fromRepo}`,
      { method: "POST" },
    );
    await r.body?.cancel();
    assertEquals(r.status, 201, `mount ${d}`);
  }
  const put = await fetch(`http://${host}/v2/${toRepo}/manifests/${toTag}`, {
    method: "PUT",
    headers: { "content-type": res.headers.get("content-type") ?? accept },
    body,
  });
  await put.body?.cancel();
  assertEquals(put.status, 201);
}

function blobs(root: string): string[] {
  return [...Deno.readDirSync(`${root}/images/blobs/sha256`)].map((e) => `sha256:${e.name}`)
    .sort();
}

Deno.test({
  name: "image store removal, garbage collection and recovery",
  ignore: ignore !== undefined,
  sanitizeResources: false,
  async fn(t) {
    await using env = await testRegistry();
    const img = env.images;

    await t.step("remove refuses an image in use, then removes it and its layers", async () => {
      await using ts = await openTestService();
      const links = await ts.svc.pull(img.links.ref);
      const busybox = await ts.svc.pull(img.busybox.ref); // shares the base layer
      let inUse = true;
      ts.svc.setInUse((id) =>
        inUse && id === links.id ? { containerId: "c1", volume: false } : undefined
      );
      const err = await assertRejects(() => ts.svc.remove(img.links.ref), SauropodError, "in use");
      assertEquals(err.kind, "failed-precondition");
      assertEquals(ts.svc.list().length, 2);
      inUse = false;
      await ts.svc.remove(img.links.ref);
      assertEquals(ts.svc.list().map((i) => i.id), [busybox.id]);
      // The links layer and config are gone; the shared base layer stays for busybox.
      assertEquals(ts.snapshotDirs().length, 1);
      const left = blobs(ts.root);
      assert(!left.includes(img.links.layers[1]!.digest), "links layer collected");
      assert(!left.includes(links.id), "links config collected");
      assert(left.includes(img.busybox.layers[0]!.digest), "shared base layer kept");
      await ts.svc.remove(img.busybox.ref);
      assertEquals(ts.snapshotDirs(), []);
      assertEquals(blobs(ts.root), []);
    });

    await t.step(
      "remove is idempotent and accepts an id, a prefix, a tag or a digest",
      async () => {
        await using ts = await openTestService();
        const refs = (r: { id: string }) => [
          r.id,
          r.id.slice(7, 19),
          img.busybox.ref,
          `${img.busybox.repo}@${img.busybox.digest}`,
        ];
        for (const by of refs({ id: img.busybox.id })) {
          await ts.svc.pull(img.busybox.ref);
          await ts.svc.remove(by);
          assertEquals(ts.svc.list(), [], by);
          await ts.svc.remove(by); // unknown now: still fine
        }
        const empty = await assertRejects(() => ts.svc.remove(""), SauropodError);
        assertEquals(empty.kind, "invalid-argument");
      },
    );

    await t.step("a container keeps its layers even after its image is removed", async () => {
      await using ts = await openTestService();
      const rec = await ts.svc.pull(img.whiteouts.ref);
      const target = `${ts.root}/containers/c/rootfs`;
      await Deno.mkdir(target, { recursive: true });
      await ts.svc.mountRootfs("c", rec, target, { readonly: false });
      await ts.svc.remove(rec.id); // the runtime said it is not in use (a test of GC alone)
      assertEquals(await Deno.readTextFile(`${target}/w/o/z`), "z", "layers still mounted");
      assertEquals(ts.snapshotDirs().length, rec.chainIds.length + 1);
      await ts.svc.unmountRootfs("c", target);
      await ts.svc.collectGarbage();
      assertEquals(ts.snapshotDirs(), []);
    });

    await t.step("a tag that moves leaves the old image listed by digest", async () => {
      await using ts = await openTestService();
      const moving = `${img.host}/moving:latest`;
      await retag(img.host, "user-uid", "latest", "moving", "latest");
      const old = await ts.svc.pull(moving);
      await retag(img.host, "library/busybox", "latest", "moving", "latest");
      const now = await ts.svc.pull(moving);
      assertEquals(now.id, img.busybox.id);
      assertEquals(ts.svc.resolve(moving)?.id, img.busybox.id);
      const stale = ts.svc.resolve(old.id)!;
      assertEquals(stale.repoTags, []);
      assertEquals(stale.repoDigests, [`${img.host}/moving@${img.userUid.digest}`]);
      assertEquals(ts.svc.list().length, 2);
    });

    await t.step(
      "garbage collection racing a pull never deletes the new image's layers or blobs",
      async () => {
        // The review's M2, interleaved through the service's pause points (no sleeps): a
        // pull of X has unpacked and leased everything when the removal of Y starts a
        // collection; X records its image and drops its leases while the collection is
        // between rows; then the collection goes on over X's rows and blobs.
        const x = img.whiteouts;
        const y = img.deep; // shares only the base layer with X
        const atRecord = Promise.withResolvers<void>();
        const record = Promise.withResolvers<void>();
        const atCollect = Promise.withResolvers<void>();
        const collect = Promise.withResolvers<void>();
        let armed = false;
        const decided: string[] = [];
        await using ts = await openTestService({
          hooks: {
            beforeRecord: async (id) => {
              if (id !== x.id) return;
              atRecord.resolve();
              await record.promise;
            },
            beforeCollect: async (key) => {
              if (!armed) return;
              decided.push(key);
              if (decided.length > 1) return;
              atCollect.resolve();
              await collect.promise;
            },
          },
        });
        const yRec = await ts.svc.pull(y.ref);
        const pullX = ts.svc.pull(x.ref);
        await atRecord.promise;
        armed = true;
        const removeY = ts.svc.remove(y.ref);
        await atCollect.promise; // the collection has begun: X is not an image yet
        record.resolve();
        const xRec = await pullX; // X recorded, its leases released
        collect.resolve();
        await removeY;

        // The collection did run over X's layers and blobs, and removed Y's own.
        for (const c of xRec.chainIds) assert(decided.includes(c), `decided on ${c}`);
        for (const l of x.layers) assert(decided.includes(l.digest), `decided on ${l.digest}`);
        const left = blobs(ts.root);
        for (const d of [x.id, ...x.layers.map((l) => l.digest)]) {
          assert(left.includes(d), `blob ${d} of the new image kept`);
        }
        assert(!left.includes(yRec.id), "Y's config collected");
        assertEquals(ts.snapshotDirs().length, xRec.chainIds.length, "only X's layers remain");
        // And X is usable: every layer is there to mount.
        const target = `${ts.root}/containers/c/rootfs`;
        await Deno.mkdir(target, { recursive: true });
        await ts.svc.mountRootfs("c", ts.svc.resolve(x.ref)!, target, { readonly: false });
        assertEquals(await Deno.readTextFile(`${target}/w/o/z`), "z");
        await ts.svc.unmountRootfs("c", target);
      },
    );

    await t.step("pulls and removals never parse stored configs again", async () => {
      await using ts = await openTestService();
      const user = await ts.svc.pull(img.userUid.ref);
      // Make the stored config unreadable: only verbose status may ever look at it now.
      const raw = new DatabaseSync(`${ts.root}/images/meta.db`);
      raw.prepare("UPDATE images SET config_json = 'not json' WHERE id = ?").run(user.id);
      raw.close();
      await ts.svc.pull(img.busybox.ref);
      await ts.svc.remove(img.busybox.ref);
      await ts.svc.pull(img.pause.ref);
      assertEquals(ts.svc.resolve(img.userUid.ref)?.config.user, "1000", "facts from the pull");
      assertEquals(ts.svc.configJson(user.id), "not json");
      // A restart reads the stored facts, not the config.
      const svc = await ts.reopen();
      assertEquals(svc.resolve(img.userUid.ref)?.config.user, "1000");
    });

    await t.step("usage grows with pulls and falls after removal", async () => {
      await using ts = await openTestService();
      const empty = await ts.svc.fsInfo();
      assertEquals(empty.mountpoint, `${ts.root}/snapshots`);
      await ts.svc.pull(img.busybox.ref);
      await ts.svc.remove(img.busybox.ref); // resets the cache
      await ts.svc.pull(img.deep.ref);
      const full = await ts.svc.fsInfo();
      assert(full.usedBytes > empty.usedBytes + 1_000_000, `${full.usedBytes}`);
      assert(full.inodesUsed > empty.inodesUsed + 25, `${full.inodesUsed}`);
      assert(full.timestampNs > 0n);
      await ts.svc.remove(img.deep.ref);
      const after = await ts.svc.fsInfo();
      assertEquals(after.usedBytes, empty.usedBytes);
    });

    await t.step("images and pins survive a restart", async () => {
      await using ts = await openTestService({ pinned: [img.pause.ref] });
      await ts.svc.pull(img.pause.ref);
      await ts.svc.pull(img.busybox.ref);
      const svc = await ts.reopen();
      assertEquals(svc.list().length, 2);
      assertEquals(svc.resolve(img.pause.ref)?.pinned, true);
      assertEquals(svc.resolve(img.busybox.ref)?.pinned, false);
      assertEquals(svc.resolve(img.pause.ref)?.config.entrypoint, ["/catatonit", "-P"]);
    });

    await t.step("reopening after a crash removes partial downloads and unpacks", async () => {
      await using ts = await openTestService();
      await ts.svc.pull(img.busybox.ref);
      ts.svc.close();
      // What a crash mid-pull leaves: an ingest file, an extracting snapshot, a stray dir.
      await Deno.writeTextFile(`${ts.root}/images/ingest/${"a".repeat(64)}.x`, "partial");
      const db = ImageDb.open(`${ts.root}/images/meta.db`);
      const n = db.addSnapshot("sha256:" + "b".repeat(64), "layer", "extracting", []);
      db.close();
      await Deno.mkdir(`${ts.root}/snapshots/${n}/fs/half`, { recursive: true });
      await Deno.mkdir(`${ts.root}/snapshots/9999/fs`, { recursive: true });
      const svc = await ts.reopen();
      assertEquals(ts.ingest(), []);
      assertEquals(ts.snapshotDirs().length, 1);
      assertEquals(svc.list().length, 1);
      // And pulling again reuses the complete layer.
      const before = ts.requests.length;
      await svc.pull(img.busybox.ref);
      assertEquals(ts.requests.slice(before).filter((r) => r.includes("/blobs/")), []);
    });
  },
});
