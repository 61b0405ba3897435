/**
 * The hostile-image corpus (`fixtures/hostile.ts`) pulled end to end through the agent, as
 * `crictl pull` would, with a victim directory beside the agent's store. For every image:
 * the victim is untouched byte for byte, mode for mode and link count for link count, no
 * inode of the store is linked from outside it, the pull either succeeds harmlessly (the
 * image is legal) or fails with INVALID_ARGUMENT naming the member and the rule it broke
 * and leaves no snapshot of the failed layer; and the agent keeps serving pulls.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { foreignLinks, victimDir } from "../testing/victim.ts";
import { CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { leftovers, NOTHING } from "./harness/pods.ts";
import { HOSTILE_CASES, pushHostileImages, VICTIM_NAME } from "./fixtures/hostile.ts";

const PULL_TIMEOUT_MS = 600_000;

/** Numbered snapshot directories of the store. */
function snapshotDirs(root: string): string[] {
  return [...Deno.readDirSync(`${root}/snapshots`)].map((e) => e.name)
    .filter((n) => /^\d+$/.test(n)).sort();
}

Deno.test("hostile images: pulled through the agent, none touches the host", async (t) => {
  await using env = await e2eEnv();
  const { client, agent } = env;
  const corpus = await pushHostileImages(env.images.host);
  // Beside the store (`<dir>/root`), where the corpus's relative symlinks point.
  await using victim = await victimDir({ path: `${agent.dir}/${VICTIM_NAME}` });
  const before = victim.fingerprint();

  for (const c of HOSTILE_CASES) {
    await t.step({
      name: c.what,
      ignore: c.ignore !== undefined,
      fn: async () => {
        const image = corpus[c.name]!;
        const had = new Set(snapshotDirs(agent.root));
        const pull = () =>
          client.image.pullImage({ image: { image: image.ref } }, { timeoutMs: PULL_TIMEOUT_MS });
        if (c.refused) {
          const err = await assertRejects(pull, CriError);
          assertEquals(err.code, grpc.status.INVALID_ARGUMENT, err.details);
          for (const s of c.refused) assertStringIncludes(err.details, s);
          // Layers below the refused one may have committed; the refused one left nothing.
          const added = snapshotDirs(agent.root).filter((d) => !had.has(d));
          assert(added.length < c.layers.length, `snapshots left: ${added.join(", ")}`);
          const listed = await client.image.imageStatus({ image: { image: image.ref } });
          assertEquals(listed.image, undefined, "a refused image is not listed");
        } else {
          const r = await pull();
          assertEquals(r.imageRef, image.id);
        }
        assertEquals(victim.fingerprint(), before, "the victim directory is untouched");
        assertEquals(foreignLinks(agent.root), [], "no inode of the store is linked outside");
        if (c.expect) {
          // The top layer: the new snapshot where the first expected path is a directory.
          const [first] = Object.keys(c.expect);
          const top = snapshotDirs(agent.root).filter((n) => !had.has(n))
            .map((n) => `${agent.root}/snapshots/${n}/fs`)
            .find((d) => isDir(`${d}/${first}`));
          assert(top, "the unpacked top layer");
          for (const [p, want] of Object.entries(c.expect)) {
            const st = Deno.lstatSync(`${top}/${p}`);
            assertEquals({ mode: st.mode! & 0o7777, uid: st.uid, gid: st.gid }, want, p);
          }
        }
        // The agent is up and answers.
        assertEquals((await client.runtime.version({ version: "v1" })).runtimeName, "sauropod");
      },
    });
  }

  await t.step("the agent still pulls an image it has not seen", async () => {
    const r = await client.image.pullImage({ image: { image: env.images.whiteouts.ref } });
    assertEquals(r.imageRef, env.images.whiteouts.id);
    assertEquals(victim.fingerprint(), before);
  });

  assertEquals(await leftovers(agent), NOTHING);
});

function isDir(path: string): boolean {
  try {
    return Deno.lstatSync(path).isDirectory;
  } catch {
    return false;
  }
}
