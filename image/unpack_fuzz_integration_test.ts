/**
 * A seeded, bounded fuzz loop over `unpackLayer`: archives of one to three layers that mix
 * every member kind a layer can hold with the moves of the hostile corpus (names reused and
 * replaced, directories swapped for symlinks that point at the victim by relative, absolute
 * and magic paths, hardlinks to earlier members and to the host, whiteouts, opaque markers,
 * devices, `..` and absolute names), unpacked concurrently as a pull does. Every archive must
 * leave the victim directory untouched and the store closed to outside links, and either
 * unpack or be refused as invalid, naming a member.
 *
 * `SAUROPOD_FUZZ_SEED` and `SAUROPOD_FUZZ_ROUNDS` replay or extend a run; a failure prints
 * the seed and round that reproduce it.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { foreignLinks, victimDir } from "../testing/victim.ts";
import { kindOf, messageOf } from "../errors/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { tarBytes, type TarItem } from "../tests/fixtures/_tar_writer.ts";
import { toVictim, VICTIM_NAME } from "../tests/fixtures/hostile.ts";
import { sha256 } from "./_digest.ts";
import { unpackLayer } from "./_unpack.ts";
import { cannotRun } from "./_test_env.ts";

const SEED = Number(Deno.env.get("SAUROPOD_FUZZ_SEED") ?? 20261207);
const ROUNDS = Number(Deno.env.get("SAUROPOD_FUZZ_ROUNDS") ?? 1000);
/** The loop stops early past this much wall time (CI shares 2 cores). */
const BUDGET_MS = 40_000;

/** mulberry32: small, fast, good enough to pick members. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["a", "b", "c", "cron.d", "x"];
const VICTIM_SUBS = ["", "cron.d", "x", "x/y", "shadow", "var/lib", "passwd"];

/**
 * One random archive (its layers, bottom first) for `rand`; `victim` is its absolute path.
 * Members mostly go where the layer has directories or replace what it has, so about half
 * the layers are legal and unpack; the rest meet one of the refusals on the way.
 */
function archive(rand: () => number, victim: string): TarItem[][] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const layers: TarItem[][] = [];
  const nLayers = 1 + Math.floor(rand() * 3);
  for (let l = 0; l < nLayers; l++) {
    // What this layer has so far, as the planner sees it (roughly: enough to aim).
    const kinds = new Map<string, "dir" | "other">();
    const set = (path: string, kind: "dir" | "other") => {
      for (const k of [...kinds.keys()]) if (k.startsWith(`${path}/`)) kinds.delete(k);
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) kinds.set(parts.slice(0, i).join("/"), "dir");
      kinds.set(path, kind);
    };
    const of = (kind: "dir" | "other") => [...kinds].filter(([, k]) => k === kind).map(([p]) => p);
    const items: TarItem[] = [];
    const n = 3 + Math.floor(rand() * 30);
    for (let i = 0; i < n; i++) {
      const dirs = of("dir");
      const others = of("other");
      const r0 = rand();
      let path: string;
      if (r0 < 0.55 && dirs.length > 0) path = `${pick(dirs)}/${pick(NAMES)}`;
      else if (r0 < 0.85 && kinds.size > 0) path = pick([...kinds.keys()]); // replace it
      else path = rand() < 0.5 ? pick(NAMES) : `${pick(NAMES)}/${pick(NAMES)}`;
      const r = rand();
      const meta = {
        mode: pick([0o644, 0o755, 0o4755, 0o777, 0o000, 0o1777, 0o600]),
        uid: pick([0, 0, 1000, 4242]),
        gid: pick([0, 0, 1000, 4343]),
        mtime: Math.floor(rand() * 2e9),
      };
      let item: TarItem;
      let kind: "dir" | "other" | undefined = "other";
      if (r < 0.25) {
        item = { path: `${path}/`, type: "dir", ...meta };
        kind = "dir";
      } else if (r < 0.45) {
        item = {
          path,
          type: "file",
          data: new TextEncoder().encode(`${l}:${i}`),
          ...meta,
          ...(rand() < 0.1 ? { xattrs: { "user.fuzz": "v", "trusted.overlay.opaque": "y" } } : {}),
        };
      } else if (r < 0.6) {
        const target = pick([
          toVictim(path, pick(VICTIM_SUBS)),
          `${victim}/${pick(VICTIM_SUBS)}`,
          "/proc/self/fd/3",
          "/proc/self/root" + victim,
          ".",
          "..",
          "../".repeat(1 + Math.floor(rand() * 6)),
          pick(NAMES),
        ]);
        item = { path, type: "symlink", linkname: target, ...meta };
      } else if (r < 0.74 && (others.length > 0 || rand() < 0.1)) {
        const target = others.length > 0 && rand() < 0.95 ? pick(others) : pick([
          `${victim}/shadow`,
          toVictim(path, "passwd"),
          "../../../../victim/passwd",
          pick(dirs.length > 0 ? dirs : NAMES),
        ]);
        item = { path, type: "hardlink", linkname: target, ...meta };
      } else if (r < 0.74) {
        item = { path, type: "file", data: new Uint8Array(3), ...meta };
      } else if (r < 0.8) {
        item = {
          path,
          type: pick(["char", "block", "fifo"] as const),
          devmajor: 1,
          devminor: 3,
          ...meta,
        };
      } else if (r < 0.9) {
        const base = path.split("/").at(-1)!;
        item = {
          path: path.replace(/[^/]*$/, `.wh.${base}`),
          type: "file",
          data: new Uint8Array(),
        };
        kind = undefined;
      } else if (r < 0.95) {
        item = { path: `${path}/.wh..wh..opq`, type: "file", data: new Uint8Array() };
        kind = "dir";
      } else if (r < 0.99) {
        item = { path: `${path}/`, type: "dir", ...meta };
        kind = "dir";
      } else if (r < 0.995) {
        item = { path: `${path}/../../..${victim}/evil`, type: "file", data: new Uint8Array(1) };
        kind = undefined;
      } else {
        item = { path: `${victim}/evil`, type: "file", data: new Uint8Array(1) };
        kind = undefined;
      }
      items.push(item);
      if (kind !== undefined) set(path, kind);
    }
    layers.push(items);
  }
  return layers;
}

Deno.test({
  name: "unpackLayer() fuzz: mixed hostile archives never reach outside the snapshot",
  ignore: cannotRun() !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sauropod-unpack-fuzz-" });
    const started = Date.now();
    let rounds = 0;
    let refused = 0;
    let unpacked = 0;
    try {
      await using victim = await victimDir({ path: `${dir}/${VICTIM_NAME}` });
      const before = victim.fingerprint();
      for (; rounds < ROUNDS && Date.now() - started < BUDGET_MS; rounds++) {
        const seed = SEED + rounds;
        const layers = archive(prng(seed), victim.path);
        const where = `seed ${seed} (SAUROPOD_FUZZ_SEED=${seed} SAUROPOD_FUZZ_ROUNDS=1)`;
        await Deno.mkdir(`${dir}/blobs`, { recursive: true });
        const tars: Uint8Array[] = [];
        const dests: string[] = [];
        for (const [i, items] of layers.entries()) {
          tars.push(await tarBytes(items));
          await Deno.writeFile(`${dir}/blobs/${i}`, tars[i]!);
          dests.push(`${dir}/root/snapshots/${i + 1}/fs`);
          await Deno.mkdir(dests[i]!, { recursive: true });
        }
        // All layers at once, an upper one waiting for the one below only at its end.
        const done: Promise<unknown>[] = [];
        for (const [i, tar] of tars.entries()) {
          done.push(unpackLayer({
            blob: `${dir}/blobs/${i}`,
            compression: "none",
            dest: dests[i]!,
            lowers: () => dests.slice(0, i).reverse(),
            ...(i > 0 ? { lowersReady: done[i - 1]!.then(() => {}) } : {}),
            diffId: sha256(tar),
            logger: nullLogger,
          }));
        }
        const outcomes = await Promise.allSettled(done);
        if (Deno.env.get("SAUROPOD_FUZZ_PRINT")) {
          // deno-lint-ignore no-console
          console.log(
            layers.map((l) =>
              l.map((m) => `${m.type} ${m.path}${m.linkname ? ` -> ${m.linkname}` : ""}`)
            ),
          );
        }
        for (const o of outcomes) {
          if (o.status === "fulfilled") {
            unpacked++;
            continue;
          }
          refused++;
          const msg = messageOf(o.reason);
          if (Deno.env.get("SAUROPOD_FUZZ_PRINT")) {
            // deno-lint-ignore no-console
            console.log("REFUSED", msg.replace(/"[^"]*"/g, "X"));
          }
          assertEquals(kindOf(o.reason), "invalid-argument", `${where}: ${msg}`);
          assert(/layer (member|hardlink target) "|tar: /.test(msg), `${where}: ${msg}`);
        }
        assertEquals(victim.fingerprint(), before, `${where}: the victim is untouched`);
        assertEquals(foreignLinks(`${dir}/root`), [], `${where}: no outside links`);
        assertEquals(
          [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
          ["blobs", "root", VICTIM_NAME],
          `${where}: nothing else appeared`,
        );
        await Deno.remove(`${dir}/root`, { recursive: true });
        await Deno.remove(`${dir}/blobs`, { recursive: true });
      }
      // Both outcomes must be common, or the loop tests only one side.
      const summary = `${rounds} rounds: ${unpacked} layers unpacked, ${refused} refused`;
      assert(rounds >= 20, `${summary} in ${BUDGET_MS} ms`);
      assert(unpacked >= rounds / 4 && refused >= rounds / 4, summary);
      if (Deno.env.get("SAUROPOD_FUZZ_PRINT")) {
        // deno-lint-ignore no-console
        console.log(summary);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
