// deno-lint-ignore-file no-console
/**
 * `deno task test:node`: the real-node tier. Boots `../shared/vm/node-vm`'s guest once
 * (systemd PID 1, pure cgroup v2, runc, crun, CNI plugins, docker-registry; no network)
 * and runs `tests/node/*_test.ts` inside it against this checkout.
 *
 *   deno run -A tests/node/run.ts [deno test args...]     e.g. --filter systemd
 *
 * The guest has no network and runs Deno 50–100× slower than the host, so everything it
 * needs is prepared here first, in the checkout (which the guest sees at the same path):
 * `node_modules` (`deno install`); the test images, built into `.cache/test-images/` so
 * the guest only pushes them; a Deno cache (`.cache/node-vm/deno/`) warmed for every
 * module the guest loads — transpiled code, V8's code cache, npm tarballs for
 * `deploy/install.sh`, esbuild for the agent's shim bundle; the Deno binary
 * (`.cache/node-vm/bin/`); and, in a per-run directory, the checkout and that cache packed
 * as one tar each, which the guest unpacks onto its own disk. Then one `node-vm run`
 * executes `tests/node/guest.sh`.
 *
 * It prints per-test results with durations, the time of every phase, and
 * `N passed, N failed`; the exit code is the number of failed tests (125 when the guest
 * could not run them at all; a test file the guest had to stop counts as one failed test).
 * The last run's reports stay in `.cache/node-vm/last/`.
 *
 * Environment: `NODE_VM` (the node-vm script; default `<checkout>/../shared/vm/node-vm`, then
 * `/work/shared/vm/node-vm`, then `node-vm` on PATH),
 * `NODE_VM_TIMEOUT` (seconds the VM may run; default 720), `NODE_VM_PACKAGES` (added to
 * apparmor and criu), the other `NODE_VM_*` settings, passed through to node-vm, and `SAUROPOD_NODE_SUMMARY` (a file that gets the one-line
 * outcome, for `tools/test.ts`).
 *
 * @module
 */
import { buildTestImages } from "../fixtures/images.ts";
import {
  formatReport,
  parseJunit,
  parseNodeVmTiming,
  parsePhaseMarks,
  type Phase,
  type TestCase,
  unfinishedCases,
} from "./_report.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const CACHE = `${ROOT}/.cache/node-vm`;
/** The last run's report files (junit/, log/, diag/, unfinished, phases, node), kept for a look afterwards. */
const LAST = `${CACHE}/last`;
const DENO_DIR = `${CACHE}/deno`;
const DENO_BIN = `${CACHE}/bin/deno`;
/** The VM's budget: the whole stage must stay under 15 minutes on a fresh CI machine. */
const DEFAULT_VM_TIMEOUT_S = 720;
/**
 * What the VM's budget keeps back from the tests' (`NODE_TIER_BUDGET` in guest.sh): boot
 * (~15 s), unpacking (~6 s), power-off, and a margin, so that the guest stops its tests and
 * reports before the VM is killed.
 */
const VM_OVERHEAD_S = 90;
/** What the guest's copy of the checkout leaves out (`.cache` stays shared, see guest.sh). */
const TAR_EXCLUDES = ["--exclude=./.git", "--exclude=./.cache", "--exclude=./bench/results"];
/** Exit code when the tier could not run (no report at all). */
const NOT_RUN = 125;
/**
 * Debian packages the guest needs beyond node-vm's own (`NODE_VM_PACKAGES`; they are part of
 * the image's cache key, so the image is built once per set): `apparmor` loads profiles (the
 * Debian kernel has AppArmor on, and sauropod then confines containers with its default
 * profile); `criu` for checkpoint/restore.
 */
const GUEST_PACKAGES = ["apparmor", "criu"];

const dec = new TextDecoder();

/** Runs a command inheriting stdio; throws when it fails. */
async function must(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const st = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!st.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${st.code})`);
}

/** Times `fn` as a phase. */
async function timed<T>(phases: Phase[], name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  console.log(`node tier: ${name}…`);
  try {
    return await fn();
  } finally {
    phases.push({ name, seconds: (performance.now() - t0) / 1000 });
  }
}

/** Every module the guest loads: the agent and shim, install.sh's tools, the tests. */
async function guestEntrypoints(): Promise<string[]> {
  const tests: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/tests/node`)) {
    if (e.isFile && e.name.endsWith("_test.ts")) tests.push(`tests/node/${e.name}`);
  }
  return ["main.ts", "shim/server/main.ts", "app/cli.ts", "tools/config_doc.ts", ...tests.sort()];
}

/** Copies the host's Deno into the shared cache unless an identical copy is there. */
async function stageDeno(): Promise<void> {
  const src = Deno.execPath();
  const s = await Deno.stat(src);
  const d = await Deno.stat(DENO_BIN).catch(() => undefined);
  if (d && d.size === s.size && d.mtime?.getTime() === s.mtime?.getTime()) return;
  await Deno.mkdir(`${CACHE}/bin`, { recursive: true });
  await Deno.copyFile(src, `${DENO_BIN}.tmp`);
  await Deno.chmod(`${DENO_BIN}.tmp`, 0o755);
  await Deno.utime(`${DENO_BIN}.tmp`, s.atime ?? new Date(), s.mtime ?? new Date());
  await Deno.rename(`${DENO_BIN}.tmp`, DENO_BIN);
}

/**
 * The Debian mirror node-vm should use. node-vm derives it from the host's apt sources, but
 * dies (grep exits 2 under `pipefail`) when `/etc/apt/sources.list` is missing, as on
 * deb822-only hosts; the same derivation, tolerant of that, is done here.
 */
async function debianMirror(): Promise<string | undefined> {
  const files = ["/etc/apt/sources.list"];
  try {
    for await (const e of Deno.readDir("/etc/apt/sources.list.d")) {
      if (e.name.endsWith(".sources") || e.name.endsWith(".list")) {
        files.push(`/etc/apt/sources.list.d/${e.name}`);
      }
    }
  } catch {
    // no sources directory
  }
  for (const f of files) {
    const text = await Deno.readTextFile(f).catch(() => "");
    for (const line of text.split("\n")) {
      const m = /^(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line.trim());
      if (m && /\/debian\/?$/.test(m[1]!)) return m[1]!.replace(/\/debian\/?$/, "");
    }
  }
  return undefined;
}

/** Runs node-vm with stderr teed to ours; returns its exit code and stderr. */
async function nodeVm(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(script, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  for await (const chunk of child.stderr) {
    await Deno.stderr.write(chunk);
    stderr += dec.decode(chunk, { stream: true });
  }
  return { code: (await child.status).code, stderr };
}

/** Fills `runDir` with what the guest needs (see the module doc); throws on failure. */
async function prepare(
  runDir: string,
  phases: Phase[],
  nodeVmScript: string,
  env: Record<string, string>,
): Promise<void> {
  const deno = Deno.execPath();
  await timed(
    phases,
    "host: deno install (node_modules)",
    () => must(deno, ["install", "--frozen", "--quiet"]),
  );
  await timed(phases, "host: test images", () => buildTestImages());
  await timed(phases, "host: warm the guest's Deno cache", async () => {
    const denoEnv = { DENO_DIR, DENO_NO_UPDATE_CHECK: "1" };
    // Transpiled modules, which the guest loads from this checkout's paths.
    await must(deno, ["cache", "--quiet", ...await guestEntrypoints()], denoEnv);
    // npm tarballs in the global cache: deploy/install.sh runs `deno install` offline.
    await must(
      deno,
      ["cache", "--quiet", "--node-modules-dir=none", "main.ts", "tools/config_doc.ts"],
      denoEnv,
    );
    // esbuild, which `deno bundle` fetches from npm: the agent bundles the shim at start
    // (shim/client/_bundle.ts) and would fall back to unbundled shims offline.
    const bundle = `${runDir}/shim-bundle.js`;
    await must(
      deno,
      [
        "bundle",
        "--quiet",
        "--no-config",
        "--platform",
        "deno",
        "shim/server/main.ts",
        "-o",
        bundle,
      ],
      denoEnv,
    );
    await Deno.remove(bundle);
    // V8's code cache: loading every module here spares the guest most compilation.
    await must(deno, ["run", "-A", "--no-check", "--cached-only", "tests/node/_warm.ts"], denoEnv);
  });
  await timed(phases, "host: pack the checkout and the Deno cache", async () => {
    // One file each: 9p under emulation pays per file (a tree copy took 18 s, this 1 s).
    await must("tar", ["-C", ROOT, ...TAR_EXCLUDES, "-cf", `${runDir}/checkout.tar`, "."]);
    await must("tar", ["-C", DENO_DIR, "-cf", `${runDir}/deno.tar`, "."]);
  });
  await timed(phases, "host: stage the Deno binary", () => stageDeno());
  await timed(
    phases,
    "host: node-vm build (cached after the first)",
    () => must(nodeVmScript, ["build"], env),
  );
}

/** Free space the run needs where the guest's disk overlay and the packs go. */
const MIN_FREE_MIB = 2048;

/**
 * Why the host has too little disk for a run, or undefined. The guest's disk is a qcow2
 * overlay in node-vm's temp dir, and qemu pauses a guest whose writes meet ENOSPC: it would
 * sit silent until the VM's timeout instead of failing.
 */
async function shortOfSpace(): Promise<string | undefined> {
  for (const dir of [Deno.env.get("TMPDIR") || "/tmp", ROOT]) {
    const out = await new Deno.Command("df", {
      args: ["-Pk", dir],
      stdout: "piped",
      stderr: "null",
    })
      .output().catch(() => undefined);
    const fields = out?.success ? dec.decode(out.stdout).split("\n")[1]?.split(/\s+/) : [];
    const freeMiB = Math.floor(Number(fields?.[3]) / 1024);
    if (Number.isFinite(freeMiB) && freeMiB < MIN_FREE_MIB) {
      return `only ${freeMiB} MiB free in ${dir} (the run needs ${MIN_FREE_MIB} MiB: the guest's disk overlay and the packs)`;
    }
  }
  return undefined;
}

/**
 * The guest's `-e` settings for node-vm: the tests' budget, and `NODE_TIER_FILE_LIMIT` and
 * `NODE_TIER_STEP_REPORT_S` when set here.
 */
function guestEnv(budget: number): string[] {
  const args = ["-e", `NODE_TIER_BUDGET=${budget}`];
  for (const name of ["NODE_TIER_FILE_LIMIT", "NODE_TIER_STEP_REPORT_S"]) {
    const value = Deno.env.get(name);
    if (value) args.push("-e", `${name}=${value}`);
  }
  return args;
}

/** {@link GUEST_PACKAGES} and the caller's `NODE_VM_PACKAGES`, sorted, each once. */
function guestPackages(extra: string): string {
  return [...new Set([...GUEST_PACKAGES, ...extra.split(/\s+/).filter(Boolean)])].sort().join(" ");
}

/** The sorted names of the files in `dir` ending in `suffix`; none when `dir` is missing. */
async function filesEndingIn(dir: string, suffix: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.endsWith(suffix)) names.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

/**
 * The guest's results: every test file's JUnit report, and a failed case for each file it
 * stopped (see guest.sh), with the tail of that file's output.
 */
async function readGuestReport(out: string): Promise<TestCase[]> {
  const cases: TestCase[] = [];
  for (const name of await filesEndingIn(`${out}/junit`, ".xml")) {
    cases.push(...parseJunit(await Deno.readTextFile(`${out}/junit/${name}`)));
  }
  const logs = new Map<string, string>();
  for (const name of await filesEndingIn(`${out}/log`, ".log")) {
    const file = `./tests/node/${name.replace(/\.log$/, ".ts")}`;
    logs.set(file, await Deno.readTextFile(`${out}/log/${name}`));
  }
  const unfinished = await Deno.readTextFile(`${out}/unfinished`).catch(() => "");
  return [...cases, ...unfinishedCases(unfinished, logs)];
}

/**
 * The node-vm script: `$NODE_VM`, else `../shared/vm/node-vm` beside the checkout (the
 * developers' layout), else the workplace's `/work/shared/vm/node-vm` (a CI clone may live
 * elsewhere), else `node-vm` on PATH.
 */
async function findNodeVm(): Promise<string> {
  const explicit = Deno.env.get("NODE_VM");
  if (explicit) return explicit;
  const candidates = [`${ROOT}/../shared/vm/node-vm`, "/work/shared/vm/node-vm"];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir) candidates.push(`${dir}/node-vm`);
  }
  for (const c of candidates) {
    if (await Deno.stat(c).then((s) => s.isFile, () => false)) return c;
  }
  return candidates[0]!;
}

async function main(extra: string[]): Promise<number> {
  const phases: Phase[] = [];
  const started = performance.now();
  const nodeVmScript = await findNodeVm();
  const filtered = extra.some((a) => a === "--filter" || a.startsWith("--filter="));
  const report = (cases: TestCase[], node: string, problem?: string) => {
    phases.push({ name: "total", seconds: (performance.now() - started) / 1000 });
    const lines = formatReport({ cases, phases, node, filtered, ...(problem ? { problem } : {}) });
    for (const l of lines) console.log(l);
    // One line for tools/test.ts's own summary: what ran where.
    const summary = Deno.env.get("SAUROPOD_NODE_SUMMARY");
    if (summary) {
      const where = cases.length ? `${lines.at(-1)} in the node-vm guest` : "not run";
      Deno.writeTextFileSync(summary, problem ? `${where}: ${problem}` : where);
    }
  };
  if (Deno.uid() !== 0) {
    report([], "", "needs root: node-vm builds its image and boots qemu as root");
    return NOT_RUN;
  }
  if (!(await Deno.stat(nodeVmScript).then((s) => s.isFile, () => false))) {
    report([], "", `node-vm not found at ${nodeVmScript} (set NODE_VM to its path)`);
    return NOT_RUN;
  }
  const short = await shortOfSpace();
  if (short) {
    report([], "", short);
    return NOT_RUN;
  }
  const env: Record<string, string> = {};
  if (!Deno.env.get("NODE_VM_MIRROR")) {
    const mirror = await debianMirror();
    if (mirror) env.NODE_VM_MIRROR = mirror;
  }
  env.NODE_VM_TIMEOUT = Deno.env.get("NODE_VM_TIMEOUT") ?? String(DEFAULT_VM_TIMEOUT_S);
  env.NODE_VM_PACKAGES = guestPackages(Deno.env.get("NODE_VM_PACKAGES") ?? "");
  const budget = Math.max(60, Number(env.NODE_VM_TIMEOUT) - VM_OVERHEAD_S);

  // Per run, so that two runs from one checkout do not share their packs and reports.
  await Deno.mkdir(CACHE, { recursive: true });
  const runDir = await Deno.makeTempDir({ dir: CACHE, prefix: "run-" });
  const out = `${runDir}/out`;
  try {
    try {
      await prepare(runDir, phases, nodeVmScript, env);
    } catch (err) {
      report([], "", `preparing the guest failed: ${err instanceof Error ? err.message : err}`);
      return NOT_RUN;
    }
    const guest = `${ROOT}/tests/node/guest.sh`;
    const vm = await timed(
      phases,
      "node-vm run (boot + tests + power-off)",
      () =>
        nodeVm(nodeVmScript, [
          "run",
          "--share",
          ROOT,
          ...guestEnv(budget),
          "--",
          "bash",
          guest,
          runDir,
          ...extra,
        ], env),
    );
    const timing = parseNodeVmTiming(vm.stderr);
    if (timing) phases.push(...timing.phases);
    phases.push(...parsePhaseMarks(await Deno.readTextFile(`${out}/phases`).catch(() => "")));
    const node = (timing ? `accel=${timing.accel}\n` : "") +
      await Deno.readTextFile(`${out}/node`).catch(() => "");
    const cases = await readGuestReport(out);
    // The last report stays for a look after the run.
    await Deno.remove(LAST, { recursive: true }).catch(() => {});
    await Deno.rename(out, LAST).catch(() => {});
    if (cases.length === 0) {
      report([], node, `no test report from the guest (node-vm exit ${vm.code})`);
      return NOT_RUN;
    }
    const failed = cases.filter((c) => c.parent === undefined && c.outcome === "failed").length;
    // deno test fails without failed cases when a module does not load; count that as one.
    const problem = vm.code !== 0 && failed === 0
      ? `the guest run failed (exit ${vm.code}) without a failed test`
      : vm.code === NOT_RUN
      ? `the guest did not finish (node-vm exit ${vm.code}): the report is partial`
      : undefined;
    report(cases, node, problem);
    return problem ? Math.max(failed, 1) : Math.min(failed, NOT_RUN - 1);
  } finally {
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
