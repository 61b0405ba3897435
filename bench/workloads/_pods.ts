/**
 * Pods as the kubelet makes them, for every workload: the same requests to both runtimes
 * (sandbox config with metadata, log directory, cgroup parent and namespace options; a
 * busybox container with BestEffort resources), timed per RPC.
 *
 * Like the kubelet, the bench creates each pod's log directory and pod cgroup before
 * RunPodSandbox and removes them after RemovePodSandbox, outside the timings.
 *
 * @module
 */
import { createPodCgroup, type OwnedCgroup, removePodCgroup } from "../../cgroups/mod.ts";
import {
  type ContainerConfig,
  ContainerState,
  NamespaceMode,
  type PodSandboxConfig,
} from "../../api/gen/api.ts";
import { unavailable } from "../../errors/mod.ts";
import type { DeepPartial } from "../../tests/harness/cri_client.ts";
import type { BenchRuntime } from "../runtimes.ts";
import type { WorkloadContext } from "./types.ts";

/**
 * The containers' process: a shell that exits at once on SIGTERM (a plain `sleep` as PID 1
 * ignores it and every stop would wait for the grace period to end in SIGKILL). It says
 * {@link READY} once its trap is set: a SIGTERM before that is ignored too.
 */
export const SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 3600 & wait"];

/** What {@link SLEEPER} logs once it handles SIGTERM. */
export const READY = "ready";

/** The kubelet's stop grace period would be 30 s; the sleeper exits on SIGTERM anyway. */
const STOP_TIMEOUT_S = 10;

/** How a pod is built. */
export interface PodOptions {
  /**
   * `host` (NamespaceMode.NODE, no CNI) or `pod` (its own network through CNI); default:
   * `pod` with `--client process` (as the kubelet builds pods), `host` otherwise.
   */
  readonly network?: "host" | "pod";
  /** Containers in the pod (default 1). */
  readonly containers?: number;
  readonly command?: readonly string[];
}

/** A running pod. */
export interface StartedPod {
  readonly id: string;
  readonly name: string;
  readonly uid: string;
  readonly containers: string[];
  readonly config: DeepPartial<PodSandboxConfig>;
  readonly cgroup: OwnedCgroup;
  readonly logDir: string;
}

/** Milliseconds spent in each RPC of a pod start. */
export interface StartTimings {
  readonly runPodSandbox: number;
  readonly createContainer: number;
  readonly startContainer: number;
  /** RunPodSandbox through the last container RUNNING. */
  readonly total: number;
}

/** Milliseconds spent in each RPC of a pod's teardown. */
export interface RemoveTimings {
  readonly stopContainer: number;
  readonly removeContainer: number;
  readonly stopPodSandbox: number;
  readonly removePodSandbox: number;
  readonly total: number;
}

let sequence = 0;

/** The sandbox config the kubelet would send for a BestEffort pod `name`. */
export function podConfig(
  name: string,
  uid: string,
  logDir: string,
  cgroupParent: string,
  network: "host" | "pod",
): DeepPartial<PodSandboxConfig> {
  const netMode = network === "host" ? NamespaceMode.NODE : NamespaceMode.POD;
  return {
    metadata: { name, uid, namespace: "bench", attempt: 0 },
    hostname: network === "host" ? "" : name,
    logDirectory: logDir,
    labels: {
      "io.kubernetes.pod.name": name,
      "io.kubernetes.pod.namespace": "bench",
      "io.kubernetes.pod.uid": uid,
    },
    annotations: { "kubernetes.io/config.source": "api" },
    linux: {
      cgroupParent,
      securityContext: {
        namespaceOptions: {
          network: netMode,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
      },
    },
  };
}

/** The container config the kubelet would send for container `name` of a BestEffort pod. */
export function containerConfig(
  name: string,
  image: string,
  command: readonly string[],
  network: "host" | "pod",
): DeepPartial<ContainerConfig> {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command: [...command],
    logPath: `${name}/0.log`,
    labels: { "io.kubernetes.container.name": name },
    linux: {
      resources: { cpuShares: 2, oomScoreAdj: 1000 },
      securityContext: {
        namespaceOptions: {
          network: network === "host" ? NamespaceMode.NODE : NamespaceMode.POD,
          pid: NamespaceMode.CONTAINER,
          ipc: NamespaceMode.POD,
        },
      },
    },
  };
}

/** Starts, tracks and removes the pods of one runtime. */
export class Pods {
  readonly #ctx: WorkloadContext;
  readonly #rt: BenchRuntime;
  readonly #live = new Map<string, StartedPod>();

  /** Pods of `rt` in `ctx`. */
  constructor(ctx: WorkloadContext, rt: BenchRuntime) {
    this.#ctx = ctx;
    this.#rt = rt;
  }

  /** The pods started and not yet removed. */
  get live(): StartedPod[] {
    return [...this.#live.values()];
  }

  /**
   * Runs a pod with its containers and waits until every container is RUNNING. Timings
   * cover the RPCs only; directory and cgroup preparation happen before.
   */
  async start(
    prefix: string,
    opts: PodOptions = {},
  ): Promise<{ pod: StartedPod; timings: StartTimings }> {
    const network = opts.network ?? (this.#ctx.client === "process" ? "pod" : "host");
    const n = ++sequence;
    const name = `${prefix}${this.#ctx.podMarker}${n}`;
    const uid = crypto.randomUUID();
    // The kubelet's layout: <root>/<namespace>_<name>_<uid>.
    const logDir = `${this.#ctx.podLogRoot(this.#rt)}/bench_${name}_${uid}`;
    await Deno.mkdir(logDir, { recursive: true });
    const cgroupParent = `${this.#ctx.podCgroupBase(this.#rt)}/pod${uid}`;
    const cgroup = createPodCgroup(this.#ctx.cgroups, cgroupParent);
    const config = podConfig(name, uid, logDir, cgroupParent, network);
    const cri = this.#rt.cri.runtime;

    const t0 = performance.now();
    let id: string;
    try {
      ({ podSandboxId: id } = await cri.runPodSandbox({ config }));
    } catch (err) {
      await this.#release(cgroup, logDir);
      throw err;
    }
    const pod: StartedPod = { id, name, uid, containers: [], config, cgroup, logDir };
    this.#live.set(id, pod);
    const t1 = performance.now();
    let createMs = 0;
    let startMs = 0;
    for (let c = 0; c < (opts.containers ?? 1); c++) {
      const c0 = performance.now();
      const { containerId } = await cri.createContainer({
        podSandboxId: id,
        config: containerConfig(
          `c${c}`,
          this.#ctx.images.busybox,
          opts.command ?? SLEEPER,
          network,
        ),
        sandboxConfig: config,
      });
      pod.containers.push(containerId);
      const c1 = performance.now();
      await cri.startContainer({ containerId });
      const c2 = performance.now();
      createMs += c1 - c0;
      startMs += c2 - c1;
    }
    // StartContainer returning means RUNNING for both runtimes; should a status still lag,
    // the wait counts as start time.
    let end = performance.now();
    for (const containerId of pod.containers) {
      if (await this.#waitRunning(containerId)) end = performance.now();
    }
    return {
      pod,
      timings: {
        runPodSandbox: t1 - t0,
        createContainer: createMs,
        startContainer: startMs,
        total: end - t0,
      },
    };
  }

  /** Polls ContainerStatus until RUNNING; true if it had to wait. */
  async #waitRunning(containerId: string): Promise<boolean> {
    const deadline = Date.now() + 30_000;
    let waited = false;
    while (Date.now() < deadline) {
      const { status } = await this.#rt.cri.runtime.containerStatus({ containerId });
      if (status?.state === ContainerState.CONTAINER_RUNNING) return waited;
      if (status?.state === ContainerState.CONTAINER_EXITED) {
        throw unavailable(
          `container ${containerId} exited (${status.exitCode}, ${status.reason}) instead of running`,
        );
      }
      waited = true;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw unavailable(`container ${containerId} was not RUNNING within 30 s`);
  }

  /**
   * Waits (untimed) until every container of `pod` running {@link SLEEPER} has logged
   * {@link READY}, i.e. a SIGTERM will stop it at once rather than after the grace period.
   */
  async waitReady(pod: StartedPod): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (let c = 0; c < pod.containers.length; c++) {
      const log = `${pod.logDir}/c${c}/0.log`;
      for (;;) {
        const text = await Deno.readTextFile(log).catch(() => "");
        if (text.split("\n").some((l) => l.endsWith(` ${READY}`))) break;
        if (Date.now() > deadline) {
          throw unavailable(`container c${c} of ${pod.name} logged no "${READY}" in ${log}`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  /**
   * Stops and removes the pod's containers, then the pod, as the kubelet does. With
   * `ready` (default), first waits for the containers to handle SIGTERM (untimed).
   */
  async remove(pod: StartedPod, ready = true): Promise<RemoveTimings> {
    if (ready) await this.waitReady(pod);
    const cri = this.#rt.cri.runtime;
    const t0 = performance.now();
    for (const containerId of pod.containers) {
      await cri.stopContainer({ containerId, timeout: STOP_TIMEOUT_S });
    }
    const t1 = performance.now();
    for (const containerId of pod.containers) await cri.removeContainer({ containerId });
    const t2 = performance.now();
    await cri.stopPodSandbox({ podSandboxId: pod.id });
    const t3 = performance.now();
    await cri.removePodSandbox({ podSandboxId: pod.id });
    const t4 = performance.now();
    this.#live.delete(pod.id);
    await this.#release(pod.cgroup, pod.logDir);
    return {
      stopContainer: t1 - t0,
      removeContainer: t2 - t1,
      stopPodSandbox: t3 - t2,
      removePodSandbox: t4 - t3,
      total: t4 - t0,
    };
  }

  /** Removes every live pod (StopPodSandbox + RemovePodSandbox), `parallel` at a time. */
  async removeAll(parallel = 8): Promise<void> {
    const queue = this.live;
    const cri = this.#rt.cri.runtime;
    const worker = async () => {
      for (let pod = queue.shift(); pod; pod = queue.shift()) {
        await cri.stopPodSandbox({ podSandboxId: pod.id });
        await cri.removePodSandbox({ podSandboxId: pod.id });
        this.#live.delete(pod.id);
        await this.#release(pod.cgroup, pod.logDir);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }

  async #release(cgroup: OwnedCgroup, logDir: string): Promise<void> {
    try {
      removePodCgroup(cgroup);
    } catch (err) {
      this.#ctx.log.warn("pod cgroup not removed yet (the run's sweep will)", { err });
    }
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
}

/** Starts `count` pods, `parallel` at a time (setup for the workloads that need many). */
export async function startFleet(
  pods: Pods,
  prefix: string,
  count: number,
  opts: PodOptions & { parallel?: number } = {},
): Promise<StartedPod[]> {
  const out: StartedPod[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      out.push((await pods.start(prefix, opts)).pod);
    }
  };
  await Promise.all(Array.from({ length: opts.parallel ?? 5 }, worker));
  return out;
}
