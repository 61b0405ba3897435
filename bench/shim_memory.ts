// deno-lint-ignore-file no-console
/**
 * Measures the memory of shims: starts N shims each supervising a `sleep` container,
 * lets them settle, reads `/proc/<pid>/smaps_rollup` of every shim, prints the means as
 * JSON, then deletes everything. Run as root, by hand (it is a measurement, not a test):
 *
 *   deno run -A bench/shim_memory.ts [--n 30] [--v8 "--flag,--flag"|none]
 *     [--entry /abs/main.ts] [--exec 0] [--settle 12]
 *
 * `--exec K` runs K ExecSyncs in each container first (memory after use, not just idle).
 * PSS splits shared pages (the deno binary's text) among every process mapping them, so
 * it falls as N grows; USS (private clean + dirty) is what each extra shim costs.
 *
 * @module
 */
import { nullLogger } from "../log/mod.ts";
import { RUNC, TestWorld } from "../oci/_test_containers.ts";
import { ShimManager } from "../shim/client/_manager.ts";
import type { ShimHandle } from "../shim/client/_types.ts";

function flag(name: string, def: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1]! : def;
}

const n = Number(flag("n", "30"));
const v8 = flag("v8", "");
const entry = flag("entry", new URL("../main.ts", import.meta.url).pathname);
const execs = Number(flag("exec", "0"));
const settleMs = Number(flag("settle", "12")) * 1000;

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`).split("\n")) {
    const m = line.match(/^(\w+):\s+(\d+) kB$/);
    if (m) out[m[1]!] = Number(m[2]);
  }
  out.Threads = Deno.readDirSync(`/proc/${pid}/task`).reduce((k) => k + 1, 0);
  return out;
}

const world = await TestWorld.create();
const manager = new ShimManager({
  stateRoot: `${world.dir}/shims`,
  entry,
  logger: nullLogger,
  ...(v8 === "" ? {} : { v8Flags: v8 === "none" ? [] : v8.split(",") }),
});
const runtime = { binary: RUNC, root: world.runcRoot, systemdCgroup: false, callTimeoutMs: 60_000 };
const handles: ShimHandle[] = [];
try {
  for (let i = 0; i < n; i++) {
    const id = world.nextId();
    const bundle = await world.bundle(id, { args: ["sleep", "100000"] });
    const h = await manager.create({
      id,
      bundle,
      runtime,
      logPath: world.logPath(id),
      tty: false,
      stdin: false,
      stdinOnce: false,
    });
    handles.push(h);
    await h.start();
    for (let k = 0; k < execs; k++) await h.execSync({ args: ["echo", String(k)] });
  }
  // Long enough for tokio's idle blocking-pool threads (10 s keep-alive) to exit.
  await new Promise((r) => setTimeout(r, settleMs));
  const samples = handles.map((h) => rollup(h.shimPid));
  const keys = ["Rss", "Pss", "Pss_Anon", "Pss_File", "Private_Clean", "Private_Dirty", "Threads"];
  const mean: Record<string, number> = {};
  for (const k of keys) {
    mean[k] = Math.round(samples.reduce((s, x) => s + (x[k] ?? 0), 0) / samples.length);
  }
  mean.Uss = mean.Private_Clean! + mean.Private_Dirty!;
  console.log(JSON.stringify({ n, v8: v8 || "(default)", entry, execs, meanKiB: mean }));
} finally {
  for (const h of handles) await h.delete().catch((err) => console.error(String(err)));
  await world.dispose();
}
