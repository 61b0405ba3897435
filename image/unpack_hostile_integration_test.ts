/**
 * The hostile-image corpus (`tests/fixtures/hostile.ts`) through `unpackLayer`, layers
 * unpacked concurrently as a pull does (an upper layer runs while its lower one is still
 * being written), into a store laid out like the agent's with a victim directory beside it.
 * For each image: the victim is untouched, no inode of the store has a link outside it, and
 * the layer either unpacks (the image is legal) or is refused naming the member and rule.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { foreignLinks, victimDir } from "../testing/victim.ts";
import { kindOf, messageOf } from "../errors/mod.ts";
import { nullLogger } from "../log/mod.ts";
import {
  HOSTILE_CASES,
  type HostileCase,
  hostileLayerBlobs,
  VICTIM_NAME,
} from "../tests/fixtures/hostile.ts";
import { unpackLayer } from "./_unpack.ts";
import { cannotRun } from "./_test_env.ts";

/**
 * Unpacks `c`'s layers into `<dir>/root/snapshots/<n>/fs`, all at once, each waiting for
 * the one below only where a pull waits (implicit directories at its end). Returns each
 * layer's outcome and the snapshot directories.
 */
export async function unpackCase(
  c: HostileCase,
  dir: string,
): Promise<{ outcomes: PromiseSettledResult<unknown>[]; dests: string[] }> {
  const layers = await hostileLayerBlobs(c.name);
  const dests = layers.map((_, i) => `${dir}/root/snapshots/${i + 1}/fs`);
  for (const d of dests) await Deno.mkdir(d, { recursive: true });
  const done: Promise<unknown>[] = [];
  for (const [i, l] of layers.entries()) {
    done.push(unpackLayer({
      blob: l.path,
      compression: l.compression,
      dest: dests[i]!,
      lowers: () => dests.slice(0, i).reverse(),
      ...(i > 0 ? { lowersReady: done[i - 1]!.then(() => {}) } : {}),
      diffId: l.diffId,
      logger: nullLogger,
    }));
  }
  return { outcomes: await Promise.allSettled(done), dests };
}

for (const c of HOSTILE_CASES) {
  if (c.name === "many-members") continue; // the e2e corpus runs it; planning has its own test
  Deno.test({
    name: `unpackLayer() of a hostile layer: ${c.what}`,
    ignore: cannotRun() !== undefined || c.ignore !== undefined,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "sauropod-hostile-test-" });
      try {
        await using victim = await victimDir({ path: `${dir}/${VICTIM_NAME}` });
        const before = victim.fingerprint();
        const { outcomes, dests } = await unpackCase(c, dir);
        const top = outcomes.at(-1)!;
        if (c.refused) {
          assert(top.status === "rejected", `${c.name} must be refused`);
          assertEquals(kindOf(top.reason), "invalid-argument", messageOf(top.reason));
          for (const s of c.refused) assertStringIncludes(messageOf(top.reason), s);
        } else {
          for (const o of outcomes) {
            assert(o.status === "fulfilled", o.status === "rejected" ? messageOf(o.reason) : "");
          }
        }
        assertEquals(victim.fingerprint(), before, "the victim directory is untouched");
        assertEquals(foreignLinks(`${dir}/root`), [], "no inode of the store is linked outside");
        for (const [p, want] of Object.entries(c.expect ?? {})) {
          const st = await Deno.lstat(`${dests.at(-1)}/${p}`);
          assertEquals({ mode: st.mode! & 0o7777, uid: st.uid, gid: st.gid }, want, p);
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
