/**
 * One read of one cgroup into the normalised {@link CgroupStats}: each selected resource
 * read from wherever {@link CgroupLocation} says, by the reader of that version, with its
 * own timestamp. A resource that cannot be read becomes a {@link StatsProblem} and the
 * rest still answers; only a cgroup that is gone altogether is an error (not-found).
 *
 * @module
 */
import { isNotFound, kindOf, messageOf, notFound } from "../errors/mod.ts";
import { type CgroupLocation, type MemoryReading, readerFor } from "./reader.ts";
import {
  type CgroupStats,
  type Clock,
  type CpuStats,
  type IoStats,
  type MemoryStats,
  type ProcessStats,
  type PsiData,
  type PsiStats,
  type StatsProblem,
  type StatsResource,
  type SwapStats,
  systemClock,
} from "./types.ts";

/**
 * What the CRI stats and metrics need: everything. Block I/O feeds IoUsage (its timestamp
 * and io PSI) and the `container_fs_*` metrics.
 */
export const DEFAULT_RESOURCES: readonly StatsResource[] = [
  "cpu",
  "memory",
  "swap",
  "pids",
  "io",
  "psi",
];

/** Options of {@link readCgroupStats}. */
export interface ReadStatsOptions {
  /** Resources to read; default {@link DEFAULT_RESOURCES}. Unselected files are not read. */
  readonly resources?: readonly StatsResource[];
  /** Clock for timestamps; default the system's. */
  readonly clock?: Clock;
}

/** {@link CgroupStats} plus the monotonic time of the CPU read, for rate computation. */
export interface RawCgroupStats extends CgroupStats {
  /** Monotonic time of the CPU read, when CPU was read. */
  readonly cpuMonoNs?: bigint;
}

/**
 * Reads the selected resources of the cgroup at `location`. Never throws for one missing
 * or garbled resource; throws not-found when every attempted read found the cgroup gone.
 */
export function readCgroupStats(
  location: CgroupLocation,
  opts: ReadStatsOptions = {},
): RawCgroupStats {
  const want = new Set(opts.resources ?? DEFAULT_RESOURCES);
  const clock = opts.clock ?? systemClock;
  const problems: StatsProblem[] = [];
  let attempted = 0;
  let gone = 0;

  /** Runs one read; records a problem instead of throwing. */
  function attempt<T>(resource: StatsResource, read: () => T): T | undefined {
    attempted++;
    try {
      return read();
    } catch (err) {
      const missing = isNotFound(err);
      if (missing) gone++;
      problems.push({
        resource,
        kind: missing ? "missing" : "error",
        message: kindOf(err) === "internal" || missing
          ? messageOf(err)
          : `${resource}: ${messageOf(err)}`,
      });
      return undefined;
    }
  }

  function noController(resource: StatsResource): void {
    problems.push({
      resource,
      kind: "missing",
      message: `no ${resource} controller is mounted for cgroup ${location.path}`,
    });
  }

  const psiDir = want.has("psi") ? location.psi : undefined;
  const pressure = (resource: "cpu" | "memory" | "io"): PsiStats | undefined => {
    if (psiDir === undefined) return undefined;
    // PSI is an extra: its absence is normal on v1 and with psi=0, so only garbage counts.
    try {
      const p = readerFor(2).pressure(psiDir, resource);
      if (!p) return undefined;
      const ns = (d: PsiData): PsiData => ({ ...d, total: d.total * 1000n });
      return p.full ? { some: ns(p.some), full: ns(p.full) } : { some: ns(p.some) };
    } catch (err) {
      // A hybrid node's runtime may not mirror the cgroup on the unified mount at all.
      if (isNotFound(err)) return undefined;
      problems.push({ resource: "psi", kind: "error", message: messageOf(err) });
      return undefined;
    }
  };

  let cpu: CpuStats | undefined;
  let cpuMonoNs: bigint | undefined;
  if (want.has("cpu")) {
    const loc = location.cpu;
    if (!loc) noController("cpu");
    else {
      const usage = attempt("cpu", () => readerFor(loc.version).cpuUsage(loc.dir));
      if (usage !== undefined) {
        // Timestamp the counter right after reading it: the rate depends on it.
        cpuMonoNs = clock.monoNs();
        const timestamp = clock.wallNs();
        const psi = pressure("cpu");
        cpu = { timestamp, usageCoreNanoSeconds: usage, ...(psi ? { psi } : {}) };
      }
    }
  }

  let memory: MemoryStats | undefined;
  let swap: SwapStats | undefined;
  if (want.has("memory") || want.has("swap")) {
    const loc = location.memory;
    if (!loc) {
      if (want.has("memory")) noController("memory");
      if (want.has("swap")) noController("swap");
    } else {
      const reader = readerFor(loc.version);
      let reading: MemoryReading | undefined;
      if (want.has("memory")) {
        const m = attempt("memory", () => reader.memory(loc.dir));
        if (m) {
          reading = m;
          const timestamp = clock.wallNs();
          // cAdvisor's working set: usage minus the inactive file cache, never negative.
          const workingSetBytes = m.usageBytes > m.inactiveFileBytes
            ? m.usageBytes - m.inactiveFileBytes
            : 0n;
          const psi = pressure("memory");
          memory = {
            timestamp,
            usageBytes: m.usageBytes,
            workingSetBytes,
            rssBytes: m.rssBytes,
            pageFaults: m.pageFaults,
            majorPageFaults: m.majorPageFaults,
            limitBytes: m.limitBytes,
            ...(m.limitBytes !== null
              ? {
                availableBytes: m.limitBytes > workingSetBytes
                  ? m.limitBytes - workingSetBytes
                  : 0n,
              }
              : {}),
            ...(psi ? { psi } : {}),
          };
        }
      }
      if (want.has("swap")) {
        const s = attempt("swap", () => reader.swap(loc.dir, reading));
        if (s) {
          swap = {
            timestamp: clock.wallNs(),
            swapUsageBytes: s.usageBytes,
            ...(s.limitBytes !== null
              ? {
                swapAvailableBytes: s.limitBytes > s.usageBytes ? s.limitBytes - s.usageBytes : 0n,
              }
              : {}),
          };
        }
      }
    }
  }

  let process: ProcessStats | undefined;
  if (want.has("pids")) {
    const loc = location.pids;
    if (!loc) noController("pids");
    else {
      const n = attempt("pids", () => readerFor(loc.version).pids(loc.dir));
      if (n !== undefined) process = { timestamp: clock.wallNs(), processCount: n };
    }
  }

  let io: IoStats | undefined;
  if (want.has("io")) {
    const loc = location.io;
    if (!loc) noController("io");
    else {
      const r = attempt("io", () => readerFor(loc.version).io(loc.dir));
      if (r) {
        const timestamp = clock.wallNs();
        const psi = pressure("io");
        io = { timestamp, ...r, ...(psi ? { psi } : {}) };
      }
    }
  }

  if (attempted > 0 && gone === attempted) {
    throw notFound(`cgroup ${location.path} not found`);
  }
  return {
    ...(cpu ? { cpu } : {}),
    ...(cpuMonoNs !== undefined ? { cpuMonoNs } : {}),
    ...(memory ? { memory } : {}),
    ...(swap ? { swap } : {}),
    ...(process ? { process } : {}),
    ...(io ? { io } : {}),
    problems,
  };
}
