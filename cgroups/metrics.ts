/**
 * The extra cgroup counters behind the CRI's cAdvisor-named metrics (KEP-2371,
 * `ListPodSandboxMetrics`): what `readCgroupStats` does not need for the CRI stats
 * messages — user/system CPU, CFS throttling, the memory breakdown, OOM kills, per-device
 * block I/O, process and thread counts — read from v1 or v2 files as cAdvisor reads them
 * (cadvisor `container/libcontainer/handler.go`, `metrics/prometheus.go`). Like the stats,
 * a file that is missing leaves its part out (a metric is then not reported, never 0); a
 * cgroup that is gone altogether is not-found.
 *
 * @module
 */
import { isNotFound, notFound } from "../errors/mod.ts";
import { readCgroupFile, readOptionalCgroupFile } from "./_fs.ts";
import * as kernfs from "../ffi/kernfs.ts";
import { parseBlkioRecursive, parseFlatKeyed, parseIoStat, parseSingleValue } from "./parse.ts";
import type { CgroupLocation } from "./reader.ts";

/** USER_HZ: v1 `cpuacct.stat` counts in 1/100 s on every architecture Linux runs on. */
const NS_PER_TICK = 10_000_000n;
/** v1 reports "no limit" as a page-counter maximum; above 2^62 is unlimited. */
const UNLIMITED_ABOVE = 1n << 62n;

/** CPU counters. */
export interface CpuMetrics {
  /** User CPU time, ns (v1 `cpuacct.stat` user × 10 ms, v2 `cpu.stat` user_usec). */
  readonly userNs?: bigint;
  /** System CPU time, ns. */
  readonly systemNs?: bigint;
  /** CFS enforcement periods elapsed (`nr_periods`). */
  readonly periods?: bigint;
  /** Periods in which the cgroup was throttled (`nr_throttled`). */
  readonly throttledPeriods?: bigint;
  /** Time throttled, ns (v1 `throttled_time`, v2 `throttled_usec`). */
  readonly throttledNs?: bigint;
}

/** Memory counters, cAdvisor's names. */
export interface MemoryMetrics {
  /** Page cache (v1 `total_cache`, v2 `file`). */
  readonly cacheBytes?: bigint;
  /** Anonymous memory (v1 `total_rss`, v2 `anon`). */
  readonly rssBytes?: bigint;
  /** Mapped files (v1 `total_mapped_file`, v2 `file_mapped`). */
  readonly mappedFileBytes?: bigint;
  /** Active file cache (v1 `total_active_file`, v2 `active_file`). */
  readonly activeFileBytes?: bigint;
  /** Inactive file cache. */
  readonly inactiveFileBytes?: bigint;
  /** Kernel memory (v1 `memory.kmem.usage_in_bytes`, v2 `kernel`). */
  readonly kernelBytes?: bigint;
  /** Peak usage (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`). */
  readonly maxUsageBytes?: bigint;
  /** Times the limit was hit (v1 `memory.failcnt`; v2 has none). */
  readonly failcnt?: bigint;
  /** Page faults of this cgroup alone (v1 `pgfault`; v2 counts hierarchically only). */
  readonly pgfault?: bigint;
  /** Major page faults of this cgroup alone. */
  readonly pgmajfault?: bigint;
  /** Page faults of the hierarchy (v1 `total_pgfault`, v2 `pgfault`). */
  readonly hierarchyPgfault?: bigint;
  /** Major page faults of the hierarchy. */
  readonly hierarchyPgmajfault?: bigint;
  /** The cgroup's memory limit; absent when unlimited. */
  readonly limitBytes?: bigint;
}

/** Block I/O of one device. */
export interface DeviceIo {
  /** The device as cAdvisor names it (`/dev/sda`), or `MAJ:MIN` when it cannot be told. */
  readonly device: string;
  /** Bytes read. */
  readonly readBytes: bigint;
  /** Bytes written. */
  readonly writeBytes: bigint;
  /** Reads completed. */
  readonly reads: bigint;
  /** Writes completed. */
  readonly writes: bigint;
}

/** The counters of one cgroup behind the metrics (each part absent when unreadable). */
export interface CgroupMetrics {
  readonly cpu?: CpuMetrics;
  readonly memory?: MemoryMetrics;
  /** OOM kills in the cgroup (v1 `memory.oom_control`, v2 `memory.events` oom_kill). */
  readonly oomKills?: bigint;
  /** Per-device block I/O (v1 blkio throttle files, v2 `io.stat`). */
  readonly io?: readonly DeviceIo[];
  /** Processes (`cgroup.procs` lines, the subtree's). */
  readonly processes?: bigint;
  /** Tasks, threads included (`pids.current`). */
  readonly threads?: bigint;
  /** The task limit (`pids.max`); absent when "max". */
  readonly threadsMax?: bigint;
}

const v1Memory = new Set([
  "total_cache",
  "total_rss",
  "total_mapped_file",
  "total_active_file",
  "total_inactive_file",
  "pgfault",
  "pgmajfault",
  "total_pgfault",
  "total_pgmajfault",
]);
const v2Memory = new Set([
  "file",
  "anon",
  "file_mapped",
  "active_file",
  "inactive_file",
  "kernel",
  "pgfault",
  "pgmajfault",
]);
const cpuKeys = new Set([
  "user_usec",
  "system_usec",
  "nr_periods",
  "nr_throttled",
  "throttled_usec",
]);

function optionalValue(path: string): bigint | undefined {
  const text = readOptionalCgroupFile(path);
  if (text === undefined || text.trim() === "max") return undefined;
  return parseSingleValue(text, path);
}

function cpuOf(loc: CgroupLocation): CpuMetrics | undefined {
  const out: { -readonly [K in keyof CpuMetrics]: CpuMetrics[K] } = {};
  if (loc.cpu?.version === 1) {
    const f = `${loc.cpu.dir}/cpuacct.stat`;
    const t = readOptionalCgroupFile(f);
    if (t !== undefined) {
      const m = parseFlatKeyed(t, f, new Set(["user", "system"]));
      const u = m.get("user"), s = m.get("system");
      if (u !== undefined) out.userNs = u * NS_PER_TICK;
      if (s !== undefined) out.systemNs = s * NS_PER_TICK;
    }
  }
  if (loc.cfs) {
    const f = `${loc.cfs.dir}/cpu.stat`;
    const t = readOptionalCgroupFile(f);
    if (t !== undefined) {
      const v1 = loc.cfs.version === 1;
      const m = parseFlatKeyed(
        t,
        f,
        v1 ? new Set(["nr_periods", "nr_throttled", "throttled_time"]) : cpuKeys,
      );
      if (!v1) {
        const u = m.get("user_usec"), s = m.get("system_usec");
        if (u !== undefined) out.userNs = u * 1000n;
        if (s !== undefined) out.systemNs = s * 1000n;
      }
      const p = m.get("nr_periods"), n = m.get("nr_throttled");
      const tt = v1 ? m.get("throttled_time") : (m.get("throttled_usec") ?? 0n) * 1000n;
      if (p !== undefined) out.periods = p;
      if (n !== undefined) out.throttledPeriods = n;
      if (p !== undefined && tt !== undefined) out.throttledNs = tt;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

function memoryOf(loc: CgroupLocation): MemoryMetrics | undefined {
  const mem = loc.memory;
  if (!mem) return undefined;
  const d = mem.dir;
  const statFile = `${d}/memory.stat`;
  if (mem.version === 1) {
    const m = parseFlatKeyed(readCgroupFile(statFile), statFile, v1Memory);
    const limit = optionalValue(`${d}/memory.limit_in_bytes`);
    return strip<MemoryMetrics>({
      cacheBytes: m.get("total_cache"),
      rssBytes: m.get("total_rss"),
      mappedFileBytes: m.get("total_mapped_file"),
      activeFileBytes: m.get("total_active_file"),
      inactiveFileBytes: m.get("total_inactive_file"),
      kernelBytes: optionalValue(`${d}/memory.kmem.usage_in_bytes`),
      maxUsageBytes: optionalValue(`${d}/memory.max_usage_in_bytes`),
      failcnt: optionalValue(`${d}/memory.failcnt`),
      pgfault: m.get("pgfault"),
      pgmajfault: m.get("pgmajfault"),
      hierarchyPgfault: m.get("total_pgfault"),
      hierarchyPgmajfault: m.get("total_pgmajfault"),
      limitBytes: limit !== undefined && limit <= UNLIMITED_ABOVE ? limit : undefined,
    });
  }
  const m = parseFlatKeyed(readCgroupFile(statFile), statFile, v2Memory);
  return strip<MemoryMetrics>({
    cacheBytes: m.get("file"),
    rssBytes: m.get("anon"),
    mappedFileBytes: m.get("file_mapped"),
    activeFileBytes: m.get("active_file"),
    inactiveFileBytes: m.get("inactive_file"),
    kernelBytes: m.get("kernel"),
    maxUsageBytes: optionalValue(`${d}/memory.peak`),
    // v2 counts faults hierarchically only; cAdvisor reports the same value for both scopes.
    pgfault: m.get("pgfault"),
    pgmajfault: m.get("pgmajfault"),
    hierarchyPgfault: m.get("pgfault"),
    hierarchyPgmajfault: m.get("pgmajfault"),
    limitBytes: optionalValue(`${d}/memory.max`),
  });
}

function oomOf(loc: CgroupLocation): bigint | undefined {
  const mem = loc.memory;
  if (!mem) return undefined;
  const f = `${mem.dir}/${mem.version === 1 ? "memory.oom_control" : "memory.events"}`;
  const t = readOptionalCgroupFile(f);
  // v1 before Linux 4.13 has no oom_kill line: no count, not zero.
  return t === undefined ? undefined : parseFlatKeyed(t, f, new Set(["oom_kill"])).get("oom_kill");
}

function ioOf(loc: CgroupLocation, name: (majMin: string) => string): DeviceIo[] | undefined {
  const io = loc.io;
  if (!io) return undefined;
  if (io.version === 2) {
    const f = `${io.dir}/io.stat`;
    return [...parseIoStat(readCgroupFile(f), f)].map(([device, c]) => ({
      device: name(device),
      readBytes: c.get("rbytes") ?? 0n,
      writeBytes: c.get("wbytes") ?? 0n,
      reads: c.get("rios") ?? 0n,
      writes: c.get("wios") ?? 0n,
    }));
  }
  const bf = `${io.dir}/blkio.throttle.io_service_bytes_recursive`;
  const of = `${io.dir}/blkio.throttle.io_serviced_recursive`;
  const bytes = parseBlkioRecursive(readCgroupFile(bf), bf).devices;
  const ops = parseBlkioRecursive(readCgroupFile(of), of).devices;
  const devices = [...new Set([...bytes.keys(), ...ops.keys()])].sort();
  return devices.map((device) => ({
    device: name(device),
    readBytes: bytes.get(device)?.get("Read") ?? 0n,
    writeBytes: bytes.get(device)?.get("Write") ?? 0n,
    reads: ops.get(device)?.get("Read") ?? 0n,
    writes: ops.get(device)?.get("Write") ?? 0n,
  }));
}

/** Sub-cgroups walked at most when counting processes (crun adds one level; pods, one more). */
const MAX_CGROUPS_WALKED = 1024;

function processesOf(loc: CgroupLocation): bigint | undefined {
  // Any hierarchy holding the cgroup lists its processes; pids is always there with runc.
  // cAdvisor counts the whole subtree (its GetAllPids): a pod's processes sit in its
  // containers' cgroups, crun's in a `container` sub-cgroup.
  const dir = loc.pids?.dir ?? loc.memory?.dir;
  if (dir === undefined) return undefined;
  const top = readOptionalCgroupFile(`${dir}/cgroup.procs`);
  if (top === undefined) return undefined;
  const lines = (t: string) => t.split("\n").filter((l) => l.trim() !== "").length;
  let n = lines(top);
  const queue = [dir];
  let walked = 0;
  while (queue.length > 0 && walked < MAX_CGROUPS_WALKED) {
    const d = queue.shift()!;
    let entries: Deno.DirEntry[];
    try {
      entries = kernfs.readDirSync(d);
    } catch {
      continue; // removed meanwhile
    }
    for (const e of entries) {
      if (!e.isDirectory || walked >= MAX_CGROUPS_WALKED) continue;
      walked++;
      const sub = `${d}/${e.name}`;
      queue.push(sub);
      try {
        n += lines(kernfs.readTextFileSync(`${sub}/cgroup.procs`));
      } catch {
        // removed meanwhile
      }
    }
  }
  return BigInt(n);
}

/** `o` without its undefined fields (the types are strict about optional properties). */
function strip<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads the metric counters of the cgroup at `location`, naming block devices with
 * `deviceName`. A part whose files are missing or unreadable is left out; not-found when the
 * cgroup is gone from every hierarchy read.
 */
export function readCgroupMetrics(
  location: CgroupLocation,
  deviceName: (majMin: string) => string = blockDeviceName,
): CgroupMetrics {
  let attempted = 0;
  let gone = 0;
  const part = <T>(read: () => T | undefined): T | undefined => {
    attempted++;
    try {
      return read();
    } catch (err) {
      if (isNotFound(err)) gone++;
      return undefined;
    }
  };
  const cpu = part(() => cpuOf(location));
  const memory = part(() => memoryOf(location));
  const oomKills = part(() => oomOf(location));
  const io = part(() => ioOf(location, deviceName));
  const processes = part(() => processesOf(location));
  const pidsDir = location.pids?.dir;
  const threads = pidsDir === undefined
    ? undefined
    : part(() => optionalValue(`${pidsDir}/pids.current`));
  const threadsMax = pidsDir === undefined
    ? undefined
    : part(() => optionalValue(`${pidsDir}/pids.max`));
  if (attempted > 0 && gone === attempted) throw notFound(`cgroup ${location.path} not found`);
  return strip<CgroupMetrics>({ cpu, memory, oomKills, io, processes, threads, threadsMax });
}

/**
 * Whether the kernel keeps pressure stall information (`/proc/pressure`, CONFIG_PSI, not
 * booted with psi=0). A stat, which the agent's kernel interfaces allow anywhere in /proc.
 */
export function kernelHasPsi(procRoot = "/proc"): boolean {
  try {
    kernfs.statSync(`${procRoot}/pressure/cpu`);
    return true;
  } catch {
    return false;
  }
}

const deviceNames = new Map<string, string>();

/**
 * The name cAdvisor gives a block device in its `device` label (`/dev/sda`) for `MAJ:MIN`,
 * from where `/sys/dev/block/MAJ:MIN` leads; `MAJ:MIN` itself when that cannot be told.
 */
export function blockDeviceName(majMin: string, sysRoot = "/sys"): string {
  const known = deviceNames.get(majMin);
  if (known !== undefined) return known;
  let name = majMin;
  if (/^\d+:\d+$/.test(majMin)) {
    try {
      const real = kernfs.realPathSync(`${sysRoot}/dev/block/${majMin}`);
      name = `/dev/${real.slice(real.lastIndexOf("/") + 1)}`;
    } catch {
      // not a device this node shows: keep MAJ:MIN
    }
  }
  deviceNames.set(majMin, name);
  return name;
}
