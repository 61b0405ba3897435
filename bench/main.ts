// deno-lint-ignore-file no-console
/**
 * `deno task bench`: sauropod against containerd, same client, same workload, same run.
 *
 * Starts a local registry with the test images, containerd 1.6 and the sauropod agent side
 * by side (each under a temp dir, never the system defaults), runs the workloads with both
 * runtimes alternating, prints the table and writes the JSON (raw samples, machine note,
 * per-workload status) to `bench/results/`. Everything it started or created is removed at
 * the end, on failure and on Ctrl-C too; a run killed outright is swept by the next one.
 *
 * @module
 */
import {
  createPodCgroup,
  detectLayout,
  type OwnedCgroup,
  removePodCgroup,
} from "../cgroups/mod.ts";
import { messageOf, unavailable } from "../errors/mod.ts";
import { Logger } from "../log/mod.ts";
import { pushBenchImage, type TestRegistry, testRegistry } from "../tests/fixtures/images.ts";
import { type BenchOptions, parseBenchArgs, USAGE } from "./_args.ts";
import { pickSubnets, routedSubnets } from "./_cni.ts";
import { containerdLayout } from "./_containerd.ts";
import {
  POD_LOG_ROOT,
  RUN_DIR_PREFIX,
  type RunManifest,
  sharedDirsPresent,
  sweepRun,
  sweepStaleRuns,
  writeManifest,
} from "./cleanup.ts";
import { loadAverage, machineNote } from "./machine.ts";
import {
  type BenchReport,
  defaultReportPath,
  type FigureResult,
  renderMachine,
  renderTable,
  RUNTIMES,
  type WorkloadResult,
  writeReport,
} from "./report.ts";
import { runWorkload } from "./runner.ts";
import { BenchRuntime, sauropodStateDir } from "./runtimes.ts";
import { type BenchImages, type Workload, WORKLOADS } from "./workloads/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const TMP = "/tmp";

/** The workloads `opts` selects, in suite order. */
export function selectWorkloads(opts: BenchOptions): Workload[] {
  if (opts.only) return WORKLOADS.filter((w) => opts.only!.includes(w.name));
  return WORKLOADS.filter((w) => !opts.quick || w.quick);
}

/**
 * `/tmp/sb-<8 hex>`: short, because sauropod's shim sockets live below it (see
 * `_sauropod.ts`).
 */
async function makeRunDir(): Promise<{ runDir: string; id: string }> {
  for (;;) {
    const id = [...crypto.getRandomValues(new Uint8Array(4))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const runDir = `${TMP}/${RUN_DIR_PREFIX}${id}`;
    try {
      await Deno.mkdir(runDir, { mode: 0o755 });
      await Deno.chmod(runDir, 0o755);
      return { runDir, id };
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
}

/** Pulls `refs` into a runtime (the start benchmarks need them pre-pulled). */
async function prePull(rt: BenchRuntime, refs: string[]): Promise<void> {
  for (const image of refs) await rt.cri.image.pullImage({ image: { image } });
}

/** Runs the bench; resolves with the report and where it was written. */
export async function runBench(
  opts: BenchOptions,
  log: Logger,
  signal: AbortSignal,
): Promise<{ report: BenchReport; path: string }> {
  if (Deno.uid() !== 0) throw unavailable("the bench needs root (runc, cgroups, CNI)");
  const startedAt = new Date();
  const t0 = performance.now();
  const reportPath = opts.json ?? defaultReportPath(startedAt, `${ROOT}/bench/results`);
  await Deno.mkdir(reportPath.slice(0, reportPath.lastIndexOf("/")) || "/", { recursive: true });
  const workloads = selectWorkloads(opts);
  await sweepStaleRuns(TMP, log);

  const { runDir, id } = await makeRunDir();
  const subnets = pickSubnets(await routedSubnets(), 2, parseInt(id.slice(0, 4), 16));
  const networks = Object.fromEntries(RUNTIMES.map((name, i) => [name, {
    name: `bench-${name}-${id}`,
    bridge: `sb${name[0]}-${id}`,
    subnet: subnets[i]!,
    ipamDataDir: `${runDir}/${name}/cni-ipam`,
  }]));
  const manifest: RunManifest = {
    dir: runDir,
    pid: Deno.pid,
    cgroupRoot: `/sauropod-bench-${id}`,
    networks: Object.values(networks).map((n) => ({ name: n.name, bridge: n.bridge })),
    runcRoots: [
      `${runDir}/containerd/state/runc`,
      `${sauropodStateDir(runDir)}/runc`,
      `${runDir}/floor/runc`,
    ],
    containerdBundles: containerdLayout(`${runDir}/containerd`).bundles,
    preexisting: await sharedDirsPresent(),
    ...(opts.client === "process" ? { podLogMarker: `-${id}-` } : {}),
  };
  await writeManifest(manifest);
  log.info("bench run", {
    dir: runDir,
    client: opts.client,
    workloads: workloads.map((w) => w.name).join(","),
  });

  const results: WorkloadResult[] = [];
  const figures: FigureResult[] = [];
  const machine = await machineNote();
  let registry: TestRegistry | undefined;
  const runtimes: BenchRuntime[] = [];
  const bases: OwnedCgroup[] = [];
  try {
    registry = await testRegistry();
    manifest.registryHost = registry.registry.host;
    await writeManifest(manifest);
    const images: BenchImages = {
      busybox: registry.images.busybox.ref,
      pause: registry.images.pause.ref,
      ...(workloads.some((w) => w.needsBenchImage)
        ? { bench: await pushBenchImage(registry.registry.host) }
        : {}),
    };
    const cgroups = await detectLayout();
    for (const name of RUNTIMES) {
      const rt = new BenchRuntime(name, {
        runDir,
        registryHost: registry.registry.host,
        pauseImage: images.pause,
        network: networks[name]!,
        log,
        client: opts.client,
        ...(opts.agent ? { agentRoot: opts.agent } : {}),
        ...(opts.client === "process" ? { podLogRoot: POD_LOG_ROOT } : {}),
      });
      runtimes.push(rt);
      // The "kubepods" level: pods' own cgroups are made under it, as the kubelet does.
      bases.push(createPodCgroup(cgroups, `${manifest.cgroupRoot}/${name}`));
      await rt.start();
      await prePull(rt, [images.busybox, images.pause]);
    }
    for (const w of workloads) {
      if (signal.aborted) break;
      const out = await runWorkload(w, {
        runtimes,
        images,
        quick: opts.quick,
        client: opts.client,
        podLogRoot: (rt) => rt.podLogRoot,
        podMarker: `-${id}-`,
        memoryPods: opts.memoryPods,
        signal,
        log,
        runDir,
        cgroupRoot: manifest.cgroupRoot,
        cgroups,
      });
      results.push(out.result);
      figures.push(...out.figures);
    }
  } finally {
    for (const rt of runtimes) {
      await rt.close().catch((err) => log.warn("runtime did not stop cleanly", { err }));
    }
    await registry?.registry.stop().catch(() => {});
    // sauropod's log holds the per-phase timings of every create and start (see
    // `bench/profile.ts`): kept beside the JSON, since the run dir goes.
    const agent = runtimes.find((rt) => rt.name === "sauropod");
    if (agent) await Deno.copyFile(agent.logPath, `${reportPath}.sauropod.log`).catch(() => {});
    for (const b of bases.reverse()) {
      try {
        removePodCgroup(b);
      } catch {
        // The sweep below removes what is left.
      }
    }
    await sweepRun(manifest, log);
  }
  for (const w of workloads.slice(results.length)) {
    results.push({
      name: w.name,
      title: w.title,
      seconds: 0,
      status: Object.fromEntries(
        (w.subjects ?? RUNTIMES).map((s) => [s, { state: "skipped", reason: "interrupted" }]),
      ),
      notes: [],
    });
  }
  const report: BenchReport = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: (performance.now() - t0) / 1000,
    options: {
      quick: opts.quick,
      only: opts.only,
      client: opts.client,
      ...(opts.agent ? { agent: opts.agent } : {}),
    },
    machine: { ...machine, loadAverage: { ...machine.loadAverage, end: await loadAverage() } },
    environment: {
      runDir,
      cgroupRoot: manifest.cgroupRoot,
      networks: Object.values(networks),
      registry: manifest.registryHost ?? null,
    },
    workloads: results,
    figures,
  };
  await writeReport(report, reportPath);
  return { report, path: reportPath };
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(Deno.args, WORKLOADS.map((w) => w.name));
  } catch (err) {
    console.error(`${messageOf(err)}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (opts.list) {
    for (const w of WORKLOADS) {
      console.log(`${w.name.padEnd(14)} ${w.quick ? "quick " : "      "} ${w.title}`);
    }
    return 0;
  }
  const log = new Logger({ level: "info", fields: { component: "bench" } });
  const abort = new AbortController();
  const onSignal = () => {
    if (!abort.signal.aborted) {
      log.warn("interrupted: stopping after cleanup (this takes a few seconds)");
      abort.abort(new Error("interrupted"));
    }
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const { report, path } = await runBench(opts, log, abort.signal);
    console.log(`\n${renderTable(report)}\n\n${renderMachine(report.machine)}`);
    console.log(`raw samples: ${path} (${report.seconds.toFixed(0)} s)`);
    if (abort.signal.aborted) return 130;
    const failed = report.workloads.some((w) =>
      Object.values(w.status).some((s) => s.state === "failed")
    );
    return failed ? 1 : 0;
  } catch (err) {
    console.error(`bench failed: ${messageOf(err)}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
