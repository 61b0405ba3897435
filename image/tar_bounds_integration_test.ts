/**
 * PAX bombs pulled end to end through the image service from a real registry: layers whose
 * extended headers would pin a core and grow the agent by gigabytes (the review's H1) are
 * refused at the tar reader's bounds with INVALID_ARGUMENT, leave nothing behind, and the
 * service goes on pulling; a layer with megabytes of global headers it may ignore unpacks.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { BlobDir, type Layer } from "../tests/fixtures/_builder.ts";
import { Pusher } from "../tests/fixtures/_push.ts";
import { startRegistry } from "../tests/fixtures/registry.ts";
import {
  END,
  extendedHeader,
  fileMember,
  paxRecord,
  paxRecords,
  putRawLayer,
} from "../tests/fixtures/_tar_raw.ts";
import { TAR_LIMITS } from "./_tar.ts";
import { cannotRun, openTestService } from "./_test_env.ts";

const ignore = cannotRun();
const MiB = 1 << 20;

/** The same `header` again and again until the archive holds over `records` PAX records. */
function* repeated(header: Uint8Array, perHeader: number, records: number) {
  for (let n = 0; n <= records; n += perHeader) yield header;
  yield fileMember("after-the-bomb", "x");
  yield END;
}

Deno.test({
  name: "PAX bombs pulled through the image service",
  ignore: ignore !== undefined,
  sanitizeResources: false,
  async fn(t) {
    await using registry = await startRegistry();
    const dir = await Deno.makeTempDir({ prefix: "sauropod-paxbomb-" });
    try {
      const blobs = new BlobDir(dir);
      const pusher = new Pusher(registry.host);
      const push = async (repo: string, layer: Layer) => {
        const img = await blobs.image([layer], { Cmd: ["sh"] });
        for (const b of [img.config, layer]) await pusher.blob(repo, blobs, b);
        await pusher.manifest(repo, blobs, img.manifest, "latest");
        return { ref: `${registry.host}/${repo}:latest`, id: img.config.digest, layer };
      };
      // Tiny records, so the record bound is what stops them: 1 MiB headers of ~175 000
      // records each, repeated past 8 Mi records (~50 MiB of tar, ~50 KiB of gzip).
      const tiny = new TextEncoder().encode(paxRecord("k", "v").repeat(Math.floor(MiB / 6)));
      const perHeader = Math.floor(MiB / 6);
      const globalBomb = await push(
        "paxbomb-global",
        await putRawLayer(
          blobs,
          repeated(extendedHeader("g", tiny), perHeader, TAR_LIMITS.archiveRecords),
        ),
      );
      const localBomb = await push(
        "paxbomb-local",
        await putRawLayer(
          blobs,
          repeated(extendedHeader("x", tiny), perHeader, TAR_LIMITS.archiveRecords),
        ),
      );
      // 5 MiB of global records with distinct keys, then 200 members: ignored, unpacked.
      const globals: Uint8Array[] = [];
      for (let i = 0; i < 5; i++) {
        globals.push(extendedHeader("g", paxRecords(MiB - 64, i * 1_000_000).data));
      }
      for (let i = 0; i < 200; i++) globals.push(fileMember(`f/${i}`, `${i}`));
      globals.push(END);
      const manyGlobals = await push("pax-globals", await putRawLayer(blobs, globals));
      assert(globalBomb.layer.size < 1 * MiB, `bomb layer is ${globalBomb.layer.size} bytes`);

      await using ts = await openTestService();
      for (const [name, bomb] of [["global", globalBomb], ["local", localBomb]] as const) {
        await t.step(`a ${name} PAX bomb is refused at the record bound`, async () => {
          const heap = Deno.memoryUsage().heapUsed;
          const err = await assertRejects(() => ts.svc.pull(bomb.ref), SauropodError);
          assertEquals(err.kind, "invalid-argument", err.message);
          assertStringIncludes(err.message, `limit of ${TAR_LIMITS.archiveRecords} PAX records`);
          assertStringIncludes(err.message, name === "global" ? "PAX global header" : "PAX header");
          assertEquals(ts.svc.list(), []);
          assertEquals(ts.snapshotDirs(), [], "no snapshot left");
          assertEquals(ts.ingest(), []);
          const grown = Deno.memoryUsage().heapUsed - heap;
          assert(grown < 64 * MiB, `heap grew by ${(grown / MiB).toFixed(1)} MiB`);
        });
      }
      await t.step("megabytes of global headers are ignored, the layer unpacks", async () => {
        const r = await ts.svc.pull(manyGlobals.ref);
        assertEquals(r.id, manyGlobals.id);
        const target = `${ts.root}/containers/c/rootfs`;
        await Deno.mkdir(target, { recursive: true });
        await ts.svc.mountRootfs("c", r, target, { readonly: false });
        try {
          assertEquals(await Deno.readTextFile(`${target}/f/199`), "199");
          assertEquals([...Deno.readDirSync(`${target}/f`)].length, 200);
        } finally {
          await ts.svc.unmountRootfs("c", target);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
