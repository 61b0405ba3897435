/**
 * One interface over both cgroup versions: a {@link CgroupReader} turns a cgroup
 * directory into raw readings of one resource, and {@link locateCgroup} says, per
 * resource, which version and directory serve it — so a hybrid node reads memory from
 * its v1 hierarchy and pressure from the unified one.
 *
 * @module
 */
import { cgroupDir, type CgroupLayout, type CgroupVersion, mountFor } from "./layout.ts";
import { type Pressure } from "./parse.ts";
import { v1Reader } from "./_v1.ts";
import { v2Reader } from "./_v2.ts";

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

/** The reader of a version. */
export function readerFor(version: CgroupVersion): CgroupReader {
  return version === 1 ? v1Reader : v2Reader;
}

/** Where one resource of a cgroup is read. */
export interface ResourceDir {
  /** Which version's files are there. */
  readonly version: CgroupVersion;
  /** The cgroup's directory on that hierarchy. */
  readonly dir: string;
}

/** Where each resource of one cgroup is read; an absent resource has no controller. */
export interface CgroupLocation {
  /** The cgroup's path inside the hierarchies (`/kubepods/burstable/pod…/<id>`). */
  readonly path: string;
  /** CPU time: v1 `cpuacct`, else the unified hierarchy (`cpu.stat` is always there). */
  readonly cpu?: ResourceDir;
  /** Memory (and swap). */
  readonly memory?: ResourceDir;
  /** Task count. */
  readonly pids?: ResourceDir;
  /** Block I/O: v1 `blkio` or v2 `io`. */
  readonly io?: ResourceDir;
  /** The unified-hierarchy directory holding `*.pressure` files, if there is one. */
  readonly psi?: string;
}

function at(layout: CgroupLayout, controller: string, path: string): ResourceDir | undefined {
  const mount = mountFor(layout, controller);
  return mount ? { version: mount.version, dir: cgroupDir(mount, path) } : undefined;
}

/**
 * Resolves a cgroup path (as the kernel names it from the hierarchy root, e.g. from the
 * driver) to the directories to read, per resource.
 */
export function locateCgroup(layout: CgroupLayout, path: string): CgroupLocation {
  const unifiedDir = layout.unified ? cgroupDir(layout.unified, path) : undefined;
  const cpu = layout.v1.has("cpuacct")
    ? at(layout, "cpuacct", path)
    : unifiedDir !== undefined
    ? { version: 2 as const, dir: unifiedDir }
    : undefined;
  const io = layout.v1.has("blkio") ? at(layout, "blkio", path) : at(layout, "io", path);
  const memory = at(layout, "memory", path);
  const pids = at(layout, "pids", path);
  return {
    path,
    ...(cpu ? { cpu } : {}),
    ...(memory ? { memory } : {}),
    ...(pids ? { pids } : {}),
    ...(io ? { io } : {}),
    ...(unifiedDir !== undefined ? { psi: unifiedDir } : {}),
  };
}
