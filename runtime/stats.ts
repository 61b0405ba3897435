/**
 * ContainerStats, ListContainerStats, PodSandboxStats and ListPodSandboxStats: cgroup
 * readings (through the caching collector of `cgroups/`) mapped onto the CRI messages.
 * Filters are applied on the in-memory records first, so a list reads only the cgroups of
 * what it returns; containers whose cgroup is gone (exited and deleted) are skipped.
 *
 * @module
 */
import type {
  ContainerStats,
  ContainerStatsFilter,
  CpuUsage,
  FilesystemUsage,
  MemoryUsage,
  Metric,
  MetricDescriptor,
  NetworkInterfaceUsage,
  PodSandboxMetrics,
  PodSandboxStats,
  PodSandboxStatsFilter,
  PsiStats as CriPsi,
  SwapUsage,
  UInt64Value,
} from "../api/gen/api.ts";
import {
  type CgroupDriver,
  type CgroupLayout,
  type CgroupStats,
  type ContainerStatsSample,
  type ContainerStatsTarget,
  locateCgroup,
  type PodStatsTarget,
  type PsiStats,
  StatsCollector,
} from "../cgroups/mod.ts";
import { isNotFound } from "../errors/mod.ts";
import {
  type BaseLabels,
  cgroupMetrics,
  containerExtraMetrics,
  metricDescriptors,
  type MetricSupport,
  networkMetrics,
} from "./metrics.ts";
import { type NetworkStats, POD_IFNAME, readInterfaceStats } from "../network/mod.ts";
import type { RuntimeCore } from "./core.ts";
import type { Container, Sandbox } from "./records.ts";
import { resolvePrefix } from "./ids.ts";

const u64 = (v: bigint | undefined): UInt64Value | undefined =>
  v === undefined ? undefined : { value: v };

function psi(p: PsiStats | undefined): CriPsi | undefined {
  if (!p) return undefined;
  const d = (x: PsiStats["some"] | undefined) =>
    x ? { Total: x.total, Avg10: x.avg10, Avg60: x.avg60, Avg300: x.avg300 } : undefined;
  return { Some: d(p.some), Full: d(p.full) };
}

function cpu(s: CgroupStats): CpuUsage | undefined {
  if (!s.cpu) return undefined;
  return {
    timestamp: s.cpu.timestamp,
    usageCoreNanoSeconds: u64(s.cpu.usageCoreNanoSeconds),
    usageNanoCores: u64(s.cpu.usageNanoCores),
    psi: psi(s.cpu.psi),
  };
}

function memory(s: CgroupStats): MemoryUsage | undefined {
  const m = s.memory;
  if (!m) return undefined;
  return {
    timestamp: m.timestamp,
    workingSetBytes: u64(m.workingSetBytes),
    availableBytes: u64(m.availableBytes),
    usageBytes: u64(m.usageBytes),
    rssBytes: u64(m.rssBytes),
    pageFaults: u64(m.pageFaults),
    majorPageFaults: u64(m.majorPageFaults),
    psi: psi(m.psi),
  };
}

function swap(s: CgroupStats): SwapUsage | undefined {
  if (!s.swap) return undefined;
  return {
    timestamp: s.swap.timestamp,
    swapUsageBytes: u64(s.swap.swapUsageBytes),
    swapAvailableBytes: u64(s.swap.swapAvailableBytes),
  };
}

function writable(s: ContainerStatsSample): FilesystemUsage | undefined {
  const w = s.writableLayer;
  if (!w) return undefined;
  return {
    timestamp: w.timestamp,
    fsId: { mountpoint: w.mountpoint ?? "" },
    usedBytes: u64(w.usedBytes),
    inodesUsed: u64(w.inodesUsed),
  };
}

function iface(i: NetworkStats["interfaces"][number]): NetworkInterfaceUsage {
  return {
    name: i.name,
    rxBytes: u64(i.rxBytes),
    rxErrors: u64(i.rxErrors),
    txBytes: u64(i.txBytes),
    txErrors: u64(i.txErrors),
  };
}

/** Options of {@link StatsService}. */
export interface StatsServiceOptions {
  /** The agent's collector (its cache and background rounds); default a 1 s cache. */
  readonly collector?: StatsCollector;
  /** How long a pod's network reading is served again; default 1000 ms, as the collector. */
  readonly cacheTtlMs?: number;
  /** Whether the kernel has pressure files (`/proc/pressure`): the pressure metrics. */
  readonly psi?: boolean;
}

/** The stats service of the runtime. */
export class StatsService {
  readonly #core: RuntimeCore;
  readonly #layout: CgroupLayout;
  readonly #driver: CgroupDriver;
  readonly #collector: StatsCollector;

  readonly #support: MetricSupport;
  readonly #netTtlMs: number;
  readonly #net = new Map<string, { at: number; value: Promise<NetworkStats | undefined> }>();
  /** Where `image/` keeps snapshots, writable layers included (its fsInfo mount point). */
  readonly #snapshotRoot: string;

  constructor(
    core: RuntimeCore,
    layout: CgroupLayout,
    driver: CgroupDriver,
    opts: StatsServiceOptions = {},
  ) {
    this.#core = core;
    this.#layout = layout;
    this.#driver = driver;
    this.#collector = opts.collector ?? new StatsCollector({ logger: core.log });
    this.#netTtlMs = opts.cacheTtlMs ?? 1000;
    this.#snapshotRoot = `${core.config.root}/snapshots`;
    this.#support = {
      v1: layout.v1.has("memory"),
      psi: (opts.psi ?? false) && layout.unified !== undefined,
    };
  }

  /**
   * A pod's interface counters, cached like the cgroup readings (and shared while a read is
   * in flight): each read is an `nsenter` process, which stats and metrics calls, and the
   * background rounds, would otherwise each start.
   */
  #network(s: Sandbox, fresh = false): Promise<NetworkStats | undefined> {
    const net = s.doc.ns.net;
    if (!net || s.doc.state !== "ready") return Promise.resolve(undefined);
    const now = performance.now();
    const hit = this.#net.get(s.doc.id);
    if (!fresh && hit && now - hit.at < this.#netTtlMs) return hit.value;
    const value = readInterfaceStats(net).catch(() => undefined);
    this.#net.set(s.doc.id, { at: now, value });
    return value;
  }

  #pruneNetwork(): void {
    for (const id of this.#net.keys()) if (!this.#core.sandboxes.has(id)) this.#net.delete(id);
  }

  /**
   * Starts the collector's background rounds every `periodMs` over every ready pod and its
   * live containers (`stats.collect_period_seconds`); the calls are then served from them.
   */
  startBackground(periodMs: number): void {
    this.#collector.startBackground(periodMs, () => {
      const pods = [...this.#core.sandboxes.values()].filter((s) => s.doc.phase === "ready");
      // The network counters too, in the background (their promise is what calls await).
      this.#pruneNetwork();
      for (const s of pods) void this.#network(s, true);
      return pods.map((s) => this.#podTarget(s));
    });
  }

  /** Stops the background rounds. */
  stopBackground(): void {
    this.#collector.stopBackground();
  }

  #podCgroup(s: Sandbox) {
    return locateCgroup(this.#layout, this.#driver.podCgroupPath(s.doc.cgroupParent));
  }

  #podTarget(s: Sandbox): PodStatsTarget {
    return {
      id: s.doc.id,
      cgroup: this.#podCgroup(s),
      containers: this.#live(this.#core.containersOf(s.doc.id)).map((p) => this.#target(...p)),
    };
  }

  #target(c: Container, s: Sandbox): ContainerStatsTarget {
    const upper = c.doc.upperDir;
    return {
      id: c.doc.id,
      cgroup: locateCgroup(
        this.#layout,
        this.#driver.containerCgroupPath(s.doc.cgroupParent, c.doc.id),
      ),
      // fsId as ImageFsInfo's container_filesystems: the snapshot root holding the layer.
      ...(upper ? { writableLayer: { dir: upper, mountpoint: this.#snapshotRoot } } : {}),
    };
  }

  #criContainer(c: Container, sample: ContainerStatsSample): ContainerStats {
    return {
      attributes: {
        id: c.doc.id,
        metadata: c.config.metadata,
        labels: c.config.labels,
        annotations: c.config.annotations,
      },
      cpu: cpu(sample),
      memory: memory(sample),
      writableLayer: writable(sample),
      swap: swap(sample),
      io: sample.io ? { timestamp: sample.io.timestamp, psi: psi(sample.io.psi) } : undefined,
    };
  }

  /** Containers whose cgroup may exist (created or running), with their pods. */
  #live(containers: Iterable<Container>): [Container, Sandbox][] {
    const out: [Container, Sandbox][] = [];
    for (const c of containers) {
      if (c.doc.phase !== "ready" || (c.doc.state !== "running" && c.doc.state !== "created")) {
        continue;
      }
      const s = this.#core.sandboxes.get(c.doc.sandboxId);
      if (s) out.push([c, s]);
    }
    return out;
  }

  /** ContainerStats of one container. */
  async containerStats(id: string): Promise<ContainerStats> {
    const c = this.#core.container(id);
    const [pair] = this.#live([c]);
    if (!pair) {
      return {
        attributes: {
          id: c.doc.id,
          metadata: c.config.metadata,
          labels: c.config.labels,
          annotations: c.config.annotations,
        },
      } as ContainerStats;
    }
    const sample = await this.#collector.container(this.#target(...pair));
    return this.#criContainer(c, sample);
  }

  /** Forgets cached samples of containers and pods that no longer exist. */
  #prune(): void {
    this.#collector.retain([...this.#core.containers.keys(), ...this.#core.sandboxes.keys()]);
    this.#pruneNetwork();
  }

  /** ListContainerStats with its filter applied on the records first. */
  async listContainerStats(filter?: ContainerStatsFilter): Promise<ContainerStats[]> {
    this.#prune();
    let items = [...this.#core.containers.values()];
    if (filter?.id) {
      const id = resolvePrefix(filter.id, items.map((c) => c.doc.id));
      items = id && id !== "ambiguous" ? items.filter((c) => c.doc.id === id) : [];
    }
    if (filter?.podSandboxId) {
      const pod = resolvePrefix(filter.podSandboxId, this.#core.sandboxes.keys());
      items = pod && pod !== "ambiguous" ? items.filter((c) => c.doc.sandboxId === pod) : [];
    }
    const sel = Object.entries(filter?.labelSelector ?? {});
    if (sel.length) items = items.filter((c) => sel.every(([k, v]) => c.config.labels[k] === v));
    const pairs = this.#live(items);
    const byId = new Map(pairs.map(([c]) => [c.doc.id, c]));
    const samples = await this.#collector.containers(pairs.map((p) => this.#target(...p)));
    return samples.map((s) => this.#criContainer(byId.get(s.id)!, s));
  }

  async #pod(s: Sandbox): Promise<PodSandboxStats> {
    const containers = this.#live(this.#core.containersOf(s.doc.id));
    const byId = new Map(containers.map(([c]) => [c.doc.id, c]));
    const sample = await this.#collector.pod(this.#podTarget(s));
    const network = await this.#network(s);
    // The kubelet's CRI-only stats take the pod's rx/tx from this one: CNI's interface.
    const defaultIface = network?.interfaces.find((i) => i.name === POD_IFNAME);
    return {
      attributes: {
        id: s.doc.id,
        metadata: s.config.metadata,
        labels: s.config.labels,
        annotations: s.config.annotations,
      },
      linux: {
        cpu: cpu(sample),
        memory: memory(sample),
        network: network
          ? {
            timestamp: network.timestampNs,
            defaultInterface: defaultIface ? iface(defaultIface) : undefined,
            interfaces: network.interfaces.map(iface),
          }
          : undefined,
        process: sample.process
          ? { timestamp: sample.process.timestamp, processCount: u64(sample.process.processCount) }
          : undefined,
        containers: sample.containers.map((c) => this.#criContainer(byId.get(c.id)!, c)),
        io: sample.io ? { timestamp: sample.io.timestamp, psi: psi(sample.io.psi) } : undefined,
      },
      windows: undefined,
    };
  }

  /** PodSandboxStats of one pod. */
  podSandboxStats(id: string): Promise<PodSandboxStats> {
    return this.#pod(this.#core.sandbox(id));
  }

  /** ListPodSandboxStats with its filter applied on the records first. */
  async listPodSandboxStats(filter?: PodSandboxStatsFilter): Promise<PodSandboxStats[]> {
    this.#prune();
    let items = [...this.#core.sandboxes.values()].filter((s) => s.doc.phase === "ready");
    if (filter?.id) {
      const id = resolvePrefix(filter.id, items.map((s) => s.doc.id));
      items = id && id !== "ambiguous" ? items.filter((s) => s.doc.id === id) : [];
    }
    const sel = Object.entries(filter?.labelSelector ?? {});
    if (sel.length) items = items.filter((s) => sel.every(([k, v]) => s.config.labels[k] === v));
    return await Promise.all(items.map((s) => this.#pod(s)));
  }

  /** ListMetricDescriptors: the metrics this node sends. */
  metricDescriptors(): MetricDescriptor[] {
    return metricDescriptors(this.#support);
  }

  /**
   * ListPodSandboxMetrics: for every ready pod, its own cgroup's metrics and network
   * (container "" as cAdvisor's pod series), and each live container's.
   */
  async listPodSandboxMetrics(): Promise<PodSandboxMetrics[]> {
    this.#prune();
    const pods = [...this.#core.sandboxes.values()].filter((s) => s.doc.phase === "ready");
    const out: PodSandboxMetrics[] = [];
    for (const s of pods) out.push(await this.#podMetrics(s));
    return out;
  }

  async #podMetrics(s: Sandbox): Promise<PodSandboxMetrics> {
    const target = this.#podTarget(s);
    const sample = await this.#collector.pod(target);
    const meta = s.config.metadata;
    const now = BigInt(Date.now()) * 1_000_000n;
    const podLabels: BaseLabels = {
      container: "",
      id: target.cgroup.path,
      image: "",
      name: s.doc.id,
      namespace: meta?.namespace ?? "",
      pod: meta?.name ?? "",
    };
    const counters = (kind: "c" | "p", id: string, loc: PodStatsTarget["cgroup"]) => {
      try {
        return this.#collector.metrics(kind, id, loc);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    const metrics: Metric[] = sample.problems.some((p) => p.resource === "cpu")
      ? []
      : cgroupMetrics(
        podLabels,
        sample,
        counters("p", s.doc.id, target.cgroup),
        this.#support,
        now,
      );
    const net = await this.#network(s);
    if (net) {
      metrics.push(...networkMetrics(podLabels, net.interfaces, this.#support, net.timestampNs));
    }
    const targets = new Map(target.containers.map((t) => [t.id, t]));
    const containerMetrics = sample.containers.flatMap((cs) => {
      const c = this.#core.containers.get(cs.id);
      const t = targets.get(cs.id);
      if (!c || !t) return []; // removed meanwhile
      const labels: BaseLabels = {
        ...podLabels,
        container: c.config.metadata?.name ?? "",
        id: t.cgroup.path,
        image: c.doc.imageName,
        name: c.doc.id,
      };
      return {
        containerId: c.doc.id,
        metrics: [
          ...cgroupMetrics(labels, cs, counters("c", cs.id, t.cgroup), this.#support, now),
          ...containerExtraMetrics(
            labels,
            cs,
            BigInt(c.doc.startedAtNs || "0"),
            this.#support,
            now,
          ),
        ],
      };
    });
    return { podSandboxId: s.doc.id, metrics, containerMetrics };
  }

  /** Drops cached samples of removed containers. */
  forget(id: string): void {
    this.#collector.forget(id);
  }
}
