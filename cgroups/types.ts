/**
 * The normalised statistics of a cgroup, the same whichever version the kernel speaks.
 *
 * Field names follow the CRI messages (`runtime.v1` `CpuUsage`, `MemoryUsage`,
 * `SwapUsage`, `ProcessUsage`, `FilesystemUsage`, `NetworkUsage`) so that mapping them
 * is a matter of wrapping values in `{ value }`. Integers are bigint, as the CRI's
 * uint64; timestamps are nanoseconds since the Unix epoch, taken right after the file
 * they describe was read (a timestamp shared by a whole list skews rates:
 * containerd#13472).
 *
 * @module
 */

/** One line of a PSI file, with the total converted to the CRI's unit. */
export interface PsiData {
  /** Total stall time, ns (the kernel writes µs; the kubelet's PSIData is in ns). */
  readonly total: bigint;
  /** Percent of the last 10 s stalled. */
  readonly avg10: number;
  /** Percent of the last 60 s. */
  readonly avg60: number;
  /** Percent of the last 300 s. */
  readonly avg300: number;
}

/** Pressure stall information of one resource (cgroup v2 `*.pressure`). */
export interface PsiStats {
  /** Some tasks stalled. */
  readonly some: PsiData;
  /** All non-idle tasks stalled (absent from `cpu.pressure` before Linux 5.13). */
  readonly full?: PsiData;
}

/** CPU time used by the cgroup. */
export interface CpuStats {
  /** When the counter was read, ns since the epoch. */
  readonly timestamp: bigint;
  /** Cumulative CPU time, all cores, ns (v1 `cpuacct.usage`, v2 `cpu.stat` usage_usec×1000). */
  readonly usageCoreNanoSeconds: bigint;
  /**
   * CPU use over the interval since the previous sample, in nano-cores (1e9 = one core
   * busy). Absent on the first sample of a cgroup: the kubelet then computes it itself.
   */
  readonly usageNanoCores?: bigint;
  /** CPU pressure (v2 `cpu.pressure`), when the kernel provides PSI for the cgroup. */
  readonly psi?: PsiStats;
}

/** Memory use, computed as cAdvisor and containerd do. */
export interface MemoryStats {
  /** When the files were read. */
  readonly timestamp: bigint;
  /** v1 `memory.usage_in_bytes`, v2 `memory.current`. */
  readonly usageBytes: bigint;
  /** Usage minus inactive file cache (v1 `total_inactive_file`, v2 `inactive_file`), ≥ 0. */
  readonly workingSetBytes: bigint;
  /** Anonymous memory: v1 `total_rss`, v2 `anon`. */
  readonly rssBytes: bigint;
  /** Page faults: v1 `total_pgfault`, v2 `pgfault`. */
  readonly pageFaults: bigint;
  /** Major page faults: v1 `total_pgmajfault`, v2 `pgmajfault`. */
  readonly majorPageFaults: bigint;
  /** The cgroup's own limit; null when unlimited. */
  readonly limitBytes: bigint | null;
  /** Limit minus working set, when there is a limit (containerd's `getAvailableBytes`). */
  readonly availableBytes?: bigint;
  /** Memory pressure (v2 `memory.pressure`). */
  readonly psi?: PsiStats;
}

/** Swap use. */
export interface SwapStats {
  /** When the files were read. */
  readonly timestamp: bigint;
  /** v2 `memory.swap.current`; v1 `memory.memsw.usage_in_bytes` − `memory.usage_in_bytes`. */
  readonly swapUsageBytes: bigint;
  /** Swap limit minus use, when limited. */
  readonly swapAvailableBytes?: bigint;
}

/** Tasks in the cgroup (`pids.current`: threads included, as the kernel counts them). */
export interface ProcessStats {
  /** When the file was read. */
  readonly timestamp: bigint;
  /** v1 and v2 `pids.current`. */
  readonly processCount: bigint;
}

/** Block I/O, summed over devices. */
export interface IoStats {
  /** When the files were read. */
  readonly timestamp: bigint;
  /** Bytes read (v2 `io.stat` rbytes, v1 throttle `Read`). */
  readonly readBytes: bigint;
  /** Bytes written. */
  readonly writeBytes: bigint;
  /** Read operations. */
  readonly readOps: bigint;
  /** Write operations. */
  readonly writeOps: bigint;
  /** I/O pressure (v2 `io.pressure`). */
  readonly psi?: PsiStats;
}

/** Space and inodes of a directory tree (a container's writable layer). */
export interface FilesystemStats {
  /** When the walk finished. */
  readonly timestamp: bigint;
  /** Mount point of the filesystem holding the tree, when the caller knows it. */
  readonly mountpoint?: string;
  /** Bytes allocated (st_blocks × 512; hard links counted once). */
  readonly usedBytes: bigint;
  /** Distinct inodes in the tree, the root included. */
  readonly inodesUsed: bigint;
}

/** The resources a stats read can cover. */
export type StatsResource = "cpu" | "memory" | "swap" | "pids" | "io" | "psi";

/** Something that could not be read; the rest of the sample is still good. */
export interface StatsProblem {
  /** The resource concerned. */
  readonly resource: StatsResource | "writable-layer" | "network";
  /** `missing`: the controller or file is not there; `error`: it could not be read or parsed. */
  readonly kind: "missing" | "error";
  /** What failed, naming the file. */
  readonly message: string;
}

/** One read of one cgroup. Absent parts could not be read; `problems` says why. */
export interface CgroupStats {
  /** CPU. */
  readonly cpu?: CpuStats;
  /** Memory. */
  readonly memory?: MemoryStats;
  /** Swap. */
  readonly swap?: SwapStats;
  /** Task count. */
  readonly process?: ProcessStats;
  /** Block I/O. */
  readonly io?: IoStats;
  /** What could not be read. */
  readonly problems: readonly StatsProblem[];
}

/** Statistics of one container. */
export interface ContainerStatsSample extends CgroupStats {
  /** The container id. */
  readonly id: string;
  /** Its writable layer (overlay upper dir), when asked for and readable. */
  readonly writableLayer?: FilesystemStats;
}

/**
 * Statistics of one pod: its cgroup's totals and its containers (its network is read by
 * `network/`, and composed with these by `runtime/stats.ts`).
 */
export interface PodStatsSample extends CgroupStats {
  /** The pod sandbox id. */
  readonly id: string;
  /** The pod's containers (those whose cgroup could be read). */
  readonly containers: readonly ContainerStatsSample[];
}

/** Nanoseconds since the epoch and a monotonic clock, injectable for tests. */
export interface Clock {
  /** Wall-clock time, ns since the Unix epoch (for CRI timestamps). */
  wallNs(): bigint;
  /** Monotonic time, ns (for rates: immune to clock steps). */
  monoNs(): bigint;
}

const originNs = BigInt(Math.round(performance.timeOrigin * 1000)) * 1000n;

/** The process's real clocks (µs resolution, as `performance.now()` gives). */
export const systemClock: Clock = {
  wallNs: () => originNs + BigInt(Math.round(performance.now() * 1000)) * 1000n,
  monoNs: () => BigInt(Math.round(performance.now() * 1000)) * 1000n,
};
