/**
 * Limits written straight into a cgroup that no OCI runtime manages: the pod cgroup, for
 * UpdatePodSandboxResources (containers' own limits go through `runc update`). The mapping of
 * each limit onto v1 and v2 files is runc's (`libcontainer/cgroups/fs`, `fs2`), including
 * the shares → weight conversion and memory+swap → `memory.swap.max`.
 *
 * All or nothing: every file's old value is read first, and when a write fails the files
 * already written get their old values back. A memory limit below what the cgroup uses now
 * is refused before anything is written (v2 would OOM-kill to reach it).
 *
 * @module
 */
import { failedPrecondition, invalidArgument, messageOf } from "../errors/mod.ts";
// Deno grants cgroupfs only to --allow-all; it is read and written through libc.
import * as kernfs from "../ffi/kernfs.ts";
import { cgroupDir, type CgroupLayout, mountFor } from "./layout.ts";

/** Limits to write; the shape (and meaning) of OCI `linux.resources`. */
export interface CgroupLimits {
  memory?: { limit?: number; swap?: number; reservation?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
  hugepageLimits?: { pageSize: string; limit: number }[];
  /** cgroup v2 files by name; refused on v1 (the caller maps what has a v1 meaning). */
  unified?: Record<string, string>;
}

/** One file write: controller (for the hierarchy), file name, value. */
interface Write {
  controller: string;
  file: string;
  value: string;
  field: string;
}

/** runc's cpu.shares → cpu.weight (fs2 ConvertCPUSharesToCgroupV2Value). */
export function sharesToWeight(shares: number): number {
  return shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

function v1Writes(r: CgroupLimits, field: string): Write[] {
  const w: Write[] = [];
  const add = (controller: string, file: string, value: number | string, f: string) =>
    w.push({ controller, file, value: String(value), field: `${field}.${f}` });
  if (r.memory?.limit !== undefined) {
    add("memory", "memory.limit_in_bytes", r.memory.limit, "memory_limit_in_bytes");
  }
  if (r.memory?.swap !== undefined) {
    add("memory", "memory.memsw.limit_in_bytes", r.memory.swap, "memory_swap_limit_in_bytes");
  }
  if (r.memory?.reservation !== undefined) {
    add("memory", "memory.soft_limit_in_bytes", r.memory.reservation, "memory.low");
  }
  if (r.cpu?.shares !== undefined) add("cpu", "cpu.shares", r.cpu.shares, "cpu_shares");
  if (r.cpu?.period !== undefined) add("cpu", "cpu.cfs_period_us", r.cpu.period, "cpu_period");
  if (r.cpu?.quota !== undefined) add("cpu", "cpu.cfs_quota_us", r.cpu.quota, "cpu_quota");
  if (r.cpu?.cpus !== undefined) add("cpuset", "cpuset.cpus", r.cpu.cpus, "cpuset_cpus");
  if (r.cpu?.mems !== undefined) add("cpuset", "cpuset.mems", r.cpu.mems, "cpuset_mems");
  if (r.pids) add("pids", "pids.max", r.pids.limit < 0 ? "max" : r.pids.limit, "pids");
  for (const h of r.hugepageLimits ?? []) {
    add("hugetlb", `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit, `hugepage_limits`);
  }
  const unified = Object.keys(r.unified ?? {});
  if (unified.length > 0) {
    throw invalidArgument(`${field}.unified["${unified[0]}"]: the node runs cgroup v1`);
  }
  return w;
}

function v2Writes(r: CgroupLimits, field: string): Write[] {
  const w: Write[] = [];
  const add = (controller: string, file: string, value: number | string, f: string) =>
    w.push({ controller, file, value: String(value), field: `${field}.${f}` });
  const max = (n: number) => (n < 0 ? "max" : n);
  if (r.memory?.limit !== undefined) {
    add("memory", "memory.max", max(r.memory.limit), "memory_limit_in_bytes");
  }
  if (r.memory?.swap !== undefined) {
    // memory+swap → swap alone, as runc's ConvertMemorySwapToCgroupV2Value.
    const swap = r.memory.swap < 0 || (r.memory.limit ?? -1) < 0
      ? "max"
      : r.memory.swap - (r.memory.limit ?? 0);
    add("memory", "memory.swap.max", swap, "memory_swap_limit_in_bytes");
  }
  if (r.memory?.reservation !== undefined) {
    add("memory", "memory.low", r.memory.reservation, "memory.low");
  }
  if (r.cpu?.shares !== undefined) {
    add("cpu", "cpu.weight", sharesToWeight(r.cpu.shares), "cpu_shares");
  }
  if (r.cpu?.quota !== undefined || r.cpu?.period !== undefined) {
    const quota = r.cpu.quota === undefined || r.cpu.quota < 0 ? "max" : r.cpu.quota;
    add("cpu", "cpu.max", `${quota} ${r.cpu.period ?? 100000}`, "cpu_quota");
  }
  if (r.cpu?.cpus !== undefined) add("cpuset", "cpuset.cpus", r.cpu.cpus, "cpuset_cpus");
  if (r.cpu?.mems !== undefined) add("cpuset", "cpuset.mems", r.cpu.mems, "cpuset_mems");
  if (r.pids) add("pids", "pids.max", max(r.pids.limit), "pids");
  for (const h of r.hugepageLimits ?? []) {
    add("hugetlb", `hugetlb.${h.pageSize}.max`, h.limit, "hugepage_limits");
  }
  for (const [k, v] of Object.entries(r.unified ?? {})) {
    const controller = k.slice(0, k.indexOf(".")) || k;
    w.push({ controller, file: k, value: v, field: `${field}.unified["${k}"]` });
  }
  return w;
}

/** The directory of `path` in the hierarchy serving `controller`, or undefined. */
function dirFor(layout: CgroupLayout, controller: string, path: string): string | undefined {
  const m = mountFor(layout, controller);
  return m ? cgroupDir(m, path) : undefined;
}

/** The memory the cgroup at `path` uses now (bytes), or undefined when unreadable. */
export function memoryUsage(layout: CgroupLayout, path: string): number | undefined {
  const m = mountFor(layout, "memory");
  if (!m) return undefined;
  const file = m.version === 1 ? "memory.usage_in_bytes" : "memory.current";
  try {
    const n = Number(kernfs.readTextFileSync(`${cgroupDir(m, path)}/${file}`).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes `limits` into the cgroup `path` (in each hierarchy that serves the controller), all
 * or nothing. `field` prefixes the names in errors.
 */
export function writeCgroupLimits(
  layout: CgroupLayout,
  path: string,
  limits: CgroupLimits,
  field: string,
): void {
  const version = mountFor(layout, "memory")?.version ?? layout.unified?.version ?? 1;
  const limit = limits.memory?.limit;
  if (limit !== undefined && limit > 0) {
    const used = memoryUsage(layout, path);
    if (used !== undefined && limit < used) {
      throw failedPrecondition(
        `${field}.memory_limit_in_bytes: ${limit} is below what the pod uses now (${used} bytes); ` +
          `the previous limits are kept`,
      );
    }
  }
  let writes = version === 1 ? v1Writes(limits, field) : v2Writes(limits, field);
  if (version === 1) {
    // memory.limit_in_bytes must stay <= memsw: when raising, memsw goes first.
    const memsw = writes.find((w) => w.file === "memory.memsw.limit_in_bytes");
    const mem = writes.find((w) => w.file === "memory.limit_in_bytes");
    if (memsw && mem) {
      const dir = dirFor(layout, "memory", path);
      const current = dir ? readOld(`${dir}/memory.memsw.limit_in_bytes`) : undefined;
      if (current !== undefined && Number(mem.value) > Number(current.trim())) {
        writes = [memsw, ...writes.filter((w) => w !== memsw)];
      }
    }
  }
  const done: { file: string; old: string }[] = [];
  for (const w of writes) {
    const dir = dirFor(layout, w.controller, path);
    if (!dir) {
      rollback(done);
      throw invalidArgument(`${w.field}: the node has no ${w.controller} cgroup controller`);
    }
    const file = `${dir}/${w.file}`;
    const old = readOld(file);
    try {
      if (old === undefined) throw new Deno.errors.NotFound(`${file} does not exist`);
      kernfs.writeTextFileSync(file, w.value);
    } catch (err) {
      rollback(done);
      throw failedPrecondition(
        `${w.field}: cannot write ${JSON.stringify(w.value)} to ${file}: ${messageOf(err)}; ` +
          `the previous limits are kept`,
      );
    }
    done.push({ file, old });
  }
}

function readOld(file: string): string | undefined {
  try {
    return kernfs.readTextFileSync(file).trim();
  } catch {
    return undefined;
  }
}

function rollback(done: { file: string; old: string }[]): void {
  for (const { file, old } of done.reverse()) {
    try {
      // v1 reports "unlimited" as a large number that it also accepts back; v2 "max".
      kernfs.writeTextFileSync(file, old);
    } catch {
      // best effort: the error that started the rollback is what the caller sees
    }
  }
}
