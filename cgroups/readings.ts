/**
 * What a cgroup reader returns, and the reader's interface: apart from `reader.ts` (which
 * picks a reader) so the v1 and v2 readers implement it without importing their chooser.
 *
 * @module
 */
import type { CgroupVersion } from "./layout.ts";
import type { Pressure } from "./parse.ts";

/** Memory readings before timestamps are attached. */
export interface MemoryReading {
  /** Usage, bytes. */
  readonly usageBytes: bigint;
  /** Inactive file cache, bytes. */
  readonly inactiveFileBytes: bigint;
  /** Anonymous memory, bytes. */
  readonly rssBytes: bigint;
  /** Page faults. */
  readonly pageFaults: bigint;
  /** Major page faults. */
  readonly majorPageFaults: bigint;
  /** The cgroup's own limit; null when unlimited. */
  readonly limitBytes: bigint | null;
}

/** Swap readings; undefined from the reader when the kernel does not account swap. */
export interface SwapReading {
  /** Swap in use, bytes. */
  readonly usageBytes: bigint;
  /** Swap limit, bytes; null when unlimited. */
  readonly limitBytes: bigint | null;
}

/** Block I/O readings, summed over devices. */
export interface IoReading {
  /** Bytes read. */
  readonly readBytes: bigint;
  /** Bytes written. */
  readonly writeBytes: bigint;
  /** Read operations. */
  readonly readOps: bigint;
  /** Write operations. */
  readonly writeOps: bigint;
}

/**
 * Reads one cgroup directory of one version. Each method reads only the files it needs;
 * they throw not-found when the cgroup (or the file) is gone, `internal` on garbage.
 */
export interface CgroupReader {
  /** The version this reader understands. */
  readonly version: CgroupVersion;
  /** Cumulative CPU time, ns. */
  cpuUsage(dir: string): bigint;
  /** Memory use. */
  memory(dir: string): MemoryReading;
  /**
   * Swap use, or undefined when swap is not accounted. `memory` is this cgroup's memory
   * reading when the caller has one (v1 derives swap from it instead of re-reading).
   */
  swap(dir: string, memory: MemoryReading | undefined): SwapReading | undefined;
  /** Task count. */
  pids(dir: string): bigint;
  /** Block I/O. */
  io(dir: string): IoReading;
  /** PSI of `resource`, or undefined when the kernel has none for this cgroup. */
  pressure(dir: string, resource: "cpu" | "memory" | "io"): Pressure | undefined;
}
