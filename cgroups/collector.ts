/**
 * Stats for the CRI: containers and pods, with the CPU rate the kubelet expects and a
 * short cache so that overlapping callers (the kubelet's summary, crictl, cAdvisor) do
 * not multiply cgroup reads — the fan-out that melts nodes (containerd#7246).
 *
 * `usageNanoCores` is the rate between the last two CPU samples of a cgroup
 * (Δ usage ns ÷ Δ monotonic ns × 1e9), as containerd and cAdvisor compute it; a cgroup's
 * first sample has none, and the kubelet then derives it from its own cache. Each
 * cgroup's sample is timestamped when its own counter was read.
 *
 * @module
 */
import { isNotFound, messageOf } from "../errors/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import { DiskUsageCache } from "./disk_usage.ts";
import type { CgroupLocation } from "./reader.ts";
import { type CgroupMetrics, readCgroupMetrics } from "./metrics.ts";
import { DEFAULT_RESOURCES, type RawCgroupStats, readCgroupStats } from "./stats.ts";
import {
  type CgroupStats,
  type Clock,
  type ContainerStatsSample,
  type PodStatsSample,
  type StatsProblem,
  type StatsResource,
  systemClock,
} from "./types.ts";

/** A container to read: its id, its cgroup, and optionally its writable layer. */
export interface ContainerStatsTarget {
  /** Container id. */
  readonly id: string;
  /** Where its cgroup is (from `locateCgroup(layout, driver.containerCgroupPath(…))`). */
  readonly cgroup: CgroupLocation;
  /** Its overlay upper dir, and the mount point of the filesystem holding it. */
  readonly writableLayer?: { readonly dir: string; readonly mountpoint?: string };
}

/** A pod to read: its cgroup (totals) and its containers. */
export interface PodStatsTarget {
  /** Pod sandbox id. */
  readonly id: string;
  /** The pod cgroup (`locateCgroup(layout, driver.podCgroupPath(parent))`). */
  readonly cgroup: CgroupLocation;
  /** Its containers. */
  readonly containers: readonly ContainerStatsTarget[];
}

/** Options of {@link StatsCollector}. */
export interface StatsCollectorOptions {
  /** A sample younger than this is served again instead of re-read; default 1000 ms. */
  readonly cacheTtlMs?: number;
  /** Resources read for each cgroup; default everything the CRI needs. */
  readonly resources?: readonly StatsResource[];
  /** Writable-layer walks (their own, longer TTL); default a 30 s cache. */
  readonly diskUsage?: DiskUsageCache;
  /** Clock; a fake one in tests. */
  readonly clock?: Clock;
  /** Where background-collection failures go. */
  readonly logger?: Logger;
}

interface CpuPoint {
  readonly usage: bigint;
  readonly mono: bigint;
}

interface Entry {
  /** The latest CPU sample, the base of the next rate. */
  cpu?: CpuPoint;
  /** The latest answer, and the monotonic time it was read. */
  sample?: { at: bigint; stats: CgroupStats };
  /** The latest metric counters (ListPodSandboxMetrics), and when they were read. */
  metrics?: { at: bigint; counters: CgroupMetrics };
}

/**
 * Computes nano-cores from two CPU samples; undefined when there is no interval or the
 * counter went backwards (a new cgroup under the same name).
 */
export function nanoCores(prev: CpuPoint, next: CpuPoint): bigint | undefined {
  const dt = next.mono - prev.mono;
  const du = next.usage - prev.usage;
  if (dt <= 0n || du < 0n) return undefined;
  return (du * 1_000_000_000n) / dt;
}

/** Reads and caches container and pod stats. One per agent. */
export class StatsCollector {
  readonly #ttlNs: bigint;
  readonly #resources: readonly StatsResource[];
  readonly #disk: DiskUsageCache;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #entries = new Map<string, Entry>();
  #background: { timer: ReturnType<typeof setTimeout> | undefined; stopped: boolean } | undefined;

  /** Creates a collector; see {@link StatsCollectorOptions}. */
  constructor(opts: StatsCollectorOptions = {}) {
    this.#ttlNs = BigInt(Math.round((opts.cacheTtlMs ?? 1000) * 1e6));
    this.#resources = opts.resources ?? DEFAULT_RESOURCES;
    this.#clock = opts.clock ?? systemClock;
    this.#disk = opts.diskUsage ?? new DiskUsageCache({ clock: this.#clock });
    this.#log = opts.logger ?? nullLogger;
  }

  /**
   * Reads one cgroup (or serves its cached sample) and attaches the CPU rate. Throws
   * not-found when the cgroup is gone.
   */
  #cgroup(key: string, location: CgroupLocation, fresh: boolean): CgroupStats {
    let entry = this.#entries.get(key);
    const now = this.#clock.monoNs();
    if (!fresh && entry?.sample && now - entry.sample.at < this.#ttlNs) return entry.sample.stats;
    let raw: RawCgroupStats;
    try {
      raw = readCgroupStats(location, { resources: this.#resources, clock: this.#clock });
    } catch (err) {
      if (isNotFound(err)) this.#entries.delete(key);
      throw err;
    }
    entry ??= {};
    const { cpuMonoNs, ...stats } = raw;
    let result: CgroupStats = stats;
    if (stats.cpu && cpuMonoNs !== undefined) {
      const point = { usage: stats.cpu.usageCoreNanoSeconds, mono: cpuMonoNs };
      const rate = entry.cpu ? nanoCores(entry.cpu, point) : undefined;
      entry.cpu = point;
      if (rate !== undefined) result = { ...stats, cpu: { ...stats.cpu, usageNanoCores: rate } };
    }
    entry.sample = { at: now, stats: result };
    this.#entries.set(key, entry);
    return result;
  }

  /**
   * Stats of one container: cgroup resources with the CPU rate, and its writable layer
   * when the target names one. Not-found when its cgroup is gone (the container exited
   * and was cleaned up); anything less is reported in `problems`.
   */
  container(target: ContainerStatsTarget): Promise<ContainerStatsSample> {
    return this.#container(target, false);
  }

  async #container(target: ContainerStatsTarget, fresh: boolean): Promise<ContainerStatsSample> {
    const stats = this.#cgroup(`c/${target.id}`, target.cgroup, fresh);
    if (!target.writableLayer) return { id: target.id, ...stats };
    const { dir, mountpoint } = target.writableLayer;
    try {
      const u = await this.#disk.usage(dir);
      return {
        id: target.id,
        ...stats,
        writableLayer: {
          timestamp: u.timestamp,
          ...(mountpoint !== undefined ? { mountpoint } : {}),
          usedBytes: u.usedBytes,
          inodesUsed: u.inodesUsed,
        },
      };
    } catch (err) {
      const problem: StatsProblem = {
        resource: "writable-layer",
        kind: isNotFound(err) ? "missing" : "error",
        message: `writable layer ${dir}: ${messageOf(err)}`,
      };
      return { id: target.id, ...stats, problems: [...stats.problems, problem] };
    }
  }

  /**
   * The extra counters of the cAdvisor-named metrics for container (`kind` "c") or pod
   * ("p") `id`, cached like the stats. Not-found when the cgroup is gone.
   */
  metrics(kind: "c" | "p", id: string, location: CgroupLocation): CgroupMetrics {
    return this.#metrics(kind, id, location, false);
  }

  /** A background round's metric read: a cgroup gone meanwhile is no failure. */
  #freshMetrics(kind: "c" | "p", id: string, location: CgroupLocation): void {
    try {
      this.#metrics(kind, id, location, true);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  #metrics(kind: "c" | "p", id: string, location: CgroupLocation, fresh: boolean): CgroupMetrics {
    const key = `${kind}/${id}`;
    const now = this.#clock.monoNs();
    const entry = this.#entries.get(key);
    if (!fresh && entry?.metrics && now - entry.metrics.at < this.#ttlNs) {
      return entry.metrics.counters;
    }
    let counters: CgroupMetrics;
    try {
      counters = readCgroupMetrics(location);
    } catch (err) {
      if (isNotFound(err)) this.#entries.delete(key);
      throw err;
    }
    const e = entry ?? {};
    e.metrics = { at: now, counters };
    this.#entries.set(key, e);
    return counters;
  }

  /** Stats of many containers; those whose cgroup is gone are left out (ListContainerStats). */
  containers(targets: readonly ContainerStatsTarget[]): Promise<ContainerStatsSample[]> {
    return this.#containers(targets, false);
  }

  async #containers(
    targets: readonly ContainerStatsTarget[],
    fresh: boolean,
  ): Promise<ContainerStatsSample[]> {
    const out: ContainerStatsSample[] = [];
    for (const t of targets) {
      try {
        out.push(await this.#container(t, fresh));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  }

  /**
   * Stats of one pod: its cgroup's totals (absent, with a problem, when the pod cgroup
   * cannot be read) and its containers'. Its network is read by `network/`, not here.
   */
  pod(target: PodStatsTarget): Promise<PodStatsSample> {
    return this.#pod(target, false);
  }

  async #pod(target: PodStatsTarget, fresh: boolean): Promise<PodStatsSample> {
    let stats: CgroupStats;
    try {
      stats = this.#cgroup(`p/${target.id}`, target.cgroup, fresh);
    } catch (err) {
      stats = {
        problems: [{
          resource: "cpu",
          kind: isNotFound(err) ? "missing" : "error",
          message: `pod cgroup ${target.cgroup.path}: ${messageOf(err)}`,
        }],
      };
    }
    const containers = await this.#containers(target.containers, fresh);
    return { id: target.id, ...stats, containers };
  }

  /** Stats of many pods (ListPodSandboxStats). */
  async pods(targets: readonly PodStatsTarget[]): Promise<PodStatsSample[]> {
    const out: PodStatsSample[] = [];
    for (const t of targets) out.push(await this.pod(t));
    return out;
  }

  /** Forgets a removed container or pod (its rate base and cached sample). */
  forget(id: string): void {
    this.#entries.delete(`c/${id}`);
    this.#entries.delete(`p/${id}`);
  }

  /** Keeps only the containers and pods in `liveIds` (after recovery, say). */
  retain(liveIds: Iterable<string>): void {
    const live = new Set(liveIds);
    for (const key of this.#entries.keys()) {
      if (!live.has(key.slice(2))) this.#entries.delete(key);
    }
  }

  /**
   * Collects in the background every `periodMs` (the config's
   * `stats.collect_period_seconds` > 0): each round reads what `targets()` lists, so
   * callers are served from the cache (give the collector a `cacheTtlMs` ≥ the period).
   */
  startBackground(periodMs: number, targets: () => readonly PodStatsTarget[]): void {
    if (this.#background) return;
    const state: { timer: ReturnType<typeof setTimeout> | undefined; stopped: boolean } = {
      timer: undefined,
      stopped: false,
    };
    this.#background = state;
    const round = async () => {
      state.timer = undefined;
      try {
        const list = targets();
        for (const p of list) {
          await this.#pod(p, true);
          this.#freshMetrics("p", p.id, p.cgroup);
          for (const c of p.containers) this.#freshMetrics("c", c.id, c.cgroup);
        }
        this.retain(list.flatMap((p) => [p.id, ...p.containers.map((c) => c.id)]));
      } catch (err) {
        this.#log.warn("background stats collection failed", { err });
      }
      if (!state.stopped) state.timer = setTimeout(round, periodMs);
    };
    state.timer = setTimeout(round, 0);
  }

  /** Stops background collection. */
  stopBackground(): void {
    const state = this.#background;
    if (!state) return;
    state.stopped = true;
    if (state.timer !== undefined) clearTimeout(state.timer);
    this.#background = undefined;
  }
}

/**
 * Stats of one container. Pass the agent's collector for CPU rates and caching; without
 * one, this is a one-off read (no `usageNanoCores`).
 */
export function readContainerStats(
  target: ContainerStatsTarget,
  collector: StatsCollector = new StatsCollector({ cacheTtlMs: 0 }),
): Promise<ContainerStatsSample> {
  return collector.container(target);
}

/** Stats of one pod and its containers; see {@link readContainerStats} about the collector. */
export function readPodStats(
  target: PodStatsTarget,
  collector: StatsCollector = new StatsCollector({ cacheTtlMs: 0 }),
): Promise<PodStatsSample> {
  return collector.pod(target);
}
