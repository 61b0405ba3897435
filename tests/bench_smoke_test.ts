/**
 * Smoke test of `deno task bench --quick`: the harness starts containerd and sauropod, runs
 * a tight subset of workloads against both, writes a JSON report with figures for both
 * runtimes, and leaves nothing behind — after a normal run and after Ctrl-C. It checks
 * that figures exist, never what they are: performance is measured by the bench itself.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { nullLogger } from "../log/mod.ts";
import { detectLayout } from "../cgroups/mod.ts";
import type { BenchReport } from "../bench/report.ts";
import { type RunManifest, sweepRun } from "../bench/cleanup.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const dec = new TextDecoder();

const missing = ["/usr/bin/containerd", "/usr/bin/docker-registry", "/usr/lib/cni/bridge"]
  .filter((p) => {
    try {
      Deno.statSync(p);
      return false;
    } catch {
      return true;
    }
  });
const skip = Deno.uid() !== 0
  ? "needs root"
  : missing.length > 0
  ? `missing ${missing.join(", ")}`
  : undefined;
/** The test name, saying why when it is skipped. */
const named = (name: string) => skip ? `${name} (skipped: ${skip})` : name;

/** The bench as `deno task bench` runs it. */
function bench(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/bench/main.ts`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Reads a child's stream into `sink` as text; resolves when it ends. */
async function collect(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  for await (const chunk of stream) sink.push(dec.decode(chunk, { stream: true }));
}

/** What the run may have left: the names come from its report and manifest. */
async function leftovers(env: { runDir: string; cgroupRoot: string; bridges: string[] }) {
  const found: string[] = [];
  if (await Deno.stat(env.runDir).then(() => true, () => false)) found.push(env.runDir);
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
    if (cmd.split("\0").some((a) => a === env.runDir || a.includes(`${env.runDir}/`))) {
      found.push(`process ${e.name}: ${cmd.replaceAll("\0", " ")}`);
    }
  }
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  for (const line of mounts.split("\n")) {
    const mp = line.split(" ")[4] ?? "";
    if (mp.startsWith(`${env.runDir}/`)) found.push(`mount ${mp}`);
  }
  for (const bridge of env.bridges) {
    const ok = (await new Deno.Command("ip", { args: ["link", "show", bridge], stderr: "null" })
      .output()).success;
    if (ok) found.push(`bridge ${bridge}`);
  }
  const layout = await detectLayout();
  for (const m of layout.v1.values()) {
    const dir = `${m.dir}${env.cgroupRoot}`;
    if (await Deno.stat(dir).then(() => true, () => false)) found.push(`cgroup ${dir}`);
  }
  return found;
}

/** Sweeps a run the test could not trust the bench to have cleaned (the test failed). */
async function sweepIfLeft(runDir: string | undefined): Promise<void> {
  if (!runDir) return;
  const manifest = await Deno.readTextFile(`${runDir}/manifest.json`).catch(() => undefined);
  if (manifest) await sweepRun(JSON.parse(manifest) as RunManifest, nullLogger);
}

function runDirOf(log: string): string | undefined {
  return /bench run .*dir=(\/tmp\/sb-[0-9a-f]+)/.exec(log)?.[1];
}

Deno.test({
  name: named("bench --quick measures both runtimes, writes the JSON and leaves nothing behind"),
  ignore: skip !== undefined,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "sauropod-bench-smoke-" });
    const stdout: string[] = [];
    const stderr: string[] = [];
    let runDir: string | undefined;
    try {
      const child = bench([
        "--quick",
        "--only",
        "version,start,start-net,floor",
        "--json",
        `${out}/r.json`,
      ]);
      const [status] = await Promise.all([
        child.status,
        collect(child.stdout, stdout),
        collect(child.stderr, stderr),
      ]);
      runDir = runDirOf(stderr.join(""));
      const context = `\nstdout:\n${stdout.join("")}\nstderr:\n${stderr.join("").slice(-4000)}`;
      assertEquals(status.code, 0, `bench exited with ${status.code}${context}`);

      const report = JSON.parse(await Deno.readTextFile(`${out}/r.json`)) as BenchReport;
      assertEquals(report.schema, 1);
      assertEquals(report.options.quick, true);
      assertEquals(report.workloads.map((w) => w.name), ["version", "start", "start-net", "floor"]);
      for (const w of report.workloads) {
        for (const [who, st] of Object.entries(w.status)) {
          assert(st.state !== "failed", `${w.name} failed on ${who}: ${JSON.stringify(st)}`);
        }
      }
      const fig = (id: string) => report.figures.find((f) => f.id === id);
      for (const who of ["sauropod", "containerd"] as const) {
        const rtt = fig("version.rtt")?.samples[who] ?? [];
        assert(rtt.length > 0, `no Version samples for ${who}`);
        if (report.workloads[1]!.status[who]?.state === "ok") {
          assert((fig("start.total")?.samples[who] ?? []).length > 0, `no start samples: ${who}`);
        }
      }
      assert((fig("floor.create_start")?.samples.runc ?? []).length > 0, "no runc floor samples");
      assert(fig("version.rtt")?.ratio !== undefined, "Version has no ratio");
      assert(report.machine.cores > 0 && report.machine.kernel !== "", "machine note");
      assert(stdout.join("").includes("Version round-trip"), `table not printed${context}`);

      const env = report.environment as {
        runDir: string;
        cgroupRoot: string;
        networks: { bridge: string }[];
      };
      assertEquals(env.runDir, runDir);
      assertEquals(
        await leftovers({ ...env, bridges: env.networks.map((n) => n.bridge) }),
        [],
        "the bench left these behind",
      );
    } finally {
      await sweepIfLeft(runDir);
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: named("bench interrupted by SIGINT mid-workload still removes everything"),
  ignore: skip !== undefined,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "sauropod-bench-smoke-" });
    const stdout: string[] = [];
    const stderr: string[] = [];
    let runDir: string | undefined;
    try {
      const child = bench(["--quick", "--only", "start", "--json", `${out}/r.json`]);
      const done = Promise.all([collect(child.stdout, stdout), collect(child.stderr, stderr)]);
      // Interrupt once pods are being started: the worst moment, with state on both sides.
      const deadline = Date.now() + 120_000;
      while (!stderr.join("").includes("running: sequential") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 500));
      child.kill("SIGINT");
      const status = await child.status;
      await done;
      runDir = runDirOf(stderr.join(""));
      assert(runDir, `no run dir in the log:\n${stderr.join("")}`);
      assertEquals(status.code, 130, `exit code\n${stderr.join("").slice(-3000)}`);
      const report = JSON.parse(await Deno.readTextFile(`${out}/r.json`)) as BenchReport;
      const env = report.environment as {
        runDir: string;
        cgroupRoot: string;
        networks: { bridge: string }[];
      };
      assertEquals(
        await leftovers({ ...env, bridges: env.networks.map((n) => n.bridge) }),
        [],
        "the interrupted bench left these behind",
      );
    } finally {
      await sweepIfLeft(runDir);
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: named(
    "bench --client process makes each call in a client process, times its start, leaves no pod logs",
  ),
  ignore: skip !== undefined,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "sauropod-bench-smoke-" });
    const stdout: string[] = [];
    const stderr: string[] = [];
    let runDir: string | undefined;
    try {
      const child = bench([
        "--quick",
        "--client",
        "process",
        "--only",
        "version,exec-sync",
        "--json",
        `${out}/r.json`,
      ]);
      const [status] = await Promise.all([
        child.status,
        collect(child.stdout, stdout),
        collect(child.stderr, stderr),
      ]);
      runDir = runDirOf(stderr.join(""));
      const context = `\nstdout:\n${stdout.join("")}\nstderr:\n${stderr.join("").slice(-4000)}`;
      assertEquals(status.code, 0, `bench exited with ${status.code}${context}`);
      const report = JSON.parse(await Deno.readTextFile(`${out}/r.json`)) as BenchReport;
      assertEquals(report.options.client, "process");
      const fig = (id: string) => report.figures.find((f) => f.id === id);
      for (const who of ["sauropod", "containerd"] as const) {
        for (const id of ["version.rtt", "version.client_start", "exec-sync.rtt"]) {
          assert((fig(id)?.samples[who] ?? []).length > 0, `no ${id} samples for ${who}`);
        }
      }
      // The pods logged under /var/log/pods, as the kubelet's do; none of it is left.
      const id = runDir?.slice(runDir.lastIndexOf("-") + 1) ?? "";
      const left = (await Array.fromAsync(Deno.readDir("/var/log/pods")).catch(() => []))
        .map((e) => e.name).filter((n) => n.startsWith("bench_") && n.includes(`-${id}-`));
      assertEquals(left, [], "pod log directories left behind");
      assert(
        await Deno.stat(`${out}/r.json.sauropod.log`).then(() => true, () => false),
        "the agent log is kept beside the report",
      );
    } finally {
      await sweepIfLeft(runDir);
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  },
});
