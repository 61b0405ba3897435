/**
 * One interface over both cgroup versions: a {@link CgroupReader} turns a cgroup
 * directory into raw readings of one resource, and {@link locateCgroup} says, per
 * resource, which version and directory serve it — so a hybrid node reads memory from
 * its v1 hierarchy and pressure from the unified one.
 *
 * @module
 */
import { cgroupDir, type CgroupLayout, type CgroupVersion, mountFor } from "./layout.ts";
import { v1Reader } from "./_v1.ts";
import { v2Reader } from "./_v2.ts";

export type { CgroupReader, IoReading, MemoryReading, SwapReading } from "./readings.ts";
import type { CgroupReader } from "./readings.ts";

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
  /** CFS bandwidth counters (`cpu.stat` nr_periods…): v1 `cpu`, else the unified hierarchy. */
  readonly cfs?: ResourceDir;
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
  const cfs = layout.v1.has("cpu")
    ? at(layout, "cpu", path)
    : unifiedDir !== undefined
    ? { version: 2 as const, dir: unifiedDir }
    : undefined;
  const io = layout.v1.has("blkio") ? at(layout, "blkio", path) : at(layout, "io", path);
  const memory = at(layout, "memory", path);
  const pids = at(layout, "pids", path);
  return {
    path,
    ...(cpu ? { cpu } : {}),
    ...(cfs ? { cfs } : {}),
    ...(memory ? { memory } : {}),
    ...(pids ? { pids } : {}),
    ...(io ? { io } : {}),
    ...(unifiedDir !== undefined ? { psi: unifiedDir } : {}),
  };
}
