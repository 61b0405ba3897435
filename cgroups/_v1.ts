/**
 * The cgroup v1 reader (Documentation/admin-guide/cgroup-v1/): `cpuacct.usage`
 * (cpuacct.rst), `memory.usage_in_bytes` / `memory.stat` / `memory.limit_in_bytes`
 * (memory.rst §5.2: the `total_*` keys are hierarchical, as cAdvisor reads them),
 * `pids.current`, and the throttle policy's `blkio.throttle.io_service{_bytes,d}_recursive`
 * (blkio-controller.rst), which every kernel keeps whatever the I/O scheduler.
 *
 * @module
 */
import { readCgroupFile, readOptionalCgroupFile } from "./_fs.ts";
import { parseBlkioRecursive, parseFlatKeyed, parsePressure, parseSingleValue } from "./parse.ts";
import type { CgroupReader, IoReading, MemoryReading, SwapReading } from "./readings.ts";

/** The `memory.stat` keys the stats use (hierarchical totals, as cAdvisor reads them). */
const MEMORY_KEYS = new Set([
  "total_inactive_file",
  "total_rss",
  "total_pgfault",
  "total_pgmajfault",
]);

/**
 * v1 reports "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages);
 * like containerd, anything above 2^62 counts as unlimited.
 */
const UNLIMITED_ABOVE = 1n << 62n;

function limit(v: bigint): bigint | null {
  return v > UNLIMITED_ABOVE ? null : v;
}

function key(stat: Map<string, bigint>, name: string): bigint {
  return stat.get(name) ?? 0n;
}

function sumOps(file: string, text: string): { read: bigint; write: bigint } {
  const { devices } = parseBlkioRecursive(text, file);
  let read = 0n;
  let write = 0n;
  for (const ops of devices.values()) {
    read += ops.get("Read") ?? 0n;
    write += ops.get("Write") ?? 0n;
  }
  return { read, write };
}

/** Reads cgroup v1 directories. */
export const v1Reader: CgroupReader = {
  version: 1,

  cpuUsage(dir: string): bigint {
    const file = `${dir}/cpuacct.usage`;
    return parseSingleValue(readCgroupFile(file), file);
  },

  memory(dir: string): MemoryReading {
    const usageFile = `${dir}/memory.usage_in_bytes`;
    const statFile = `${dir}/memory.stat`;
    const limitFile = `${dir}/memory.limit_in_bytes`;
    const usageBytes = parseSingleValue(readCgroupFile(usageFile), usageFile);
    const stat = parseFlatKeyed(readCgroupFile(statFile), statFile, MEMORY_KEYS);
    return {
      usageBytes,
      inactiveFileBytes: key(stat, "total_inactive_file"),
      rssBytes: key(stat, "total_rss"),
      pageFaults: key(stat, "total_pgfault"),
      majorPageFaults: key(stat, "total_pgmajfault"),
      limitBytes: limit(parseSingleValue(readCgroupFile(limitFile), limitFile)),
    };
  },

  swap(dir: string, memory: MemoryReading | undefined): SwapReading | undefined {
    // memsw files exist only with swap accounting (CONFIG_MEMCG_SWAP, swapaccount=1).
    const usageFile = `${dir}/memory.memsw.usage_in_bytes`;
    const memsw = readOptionalCgroupFile(usageFile);
    if (memsw === undefined) return undefined;
    const memswUsage = parseSingleValue(memsw, usageFile);
    const limitFile = `${dir}/memory.memsw.limit_in_bytes`;
    const memswLimit = limit(parseSingleValue(readCgroupFile(limitFile), limitFile));
    let usage = memory?.usageBytes;
    let memLimit = memory?.limitBytes;
    if (usage === undefined || memLimit === undefined) {
      const f = `${dir}/memory.usage_in_bytes`;
      const lf = `${dir}/memory.limit_in_bytes`;
      usage = parseSingleValue(readCgroupFile(f), f);
      memLimit = limit(parseSingleValue(readCgroupFile(lf), lf));
    }
    return {
      usageBytes: memswUsage > usage ? memswUsage - usage : 0n,
      // memsw limits memory + swap together: what is left for swap is the difference.
      limitBytes: memswLimit === null || memLimit === null
        ? null
        : memswLimit > memLimit
        ? memswLimit - memLimit
        : 0n,
    };
  },

  pids(dir: string): bigint {
    const file = `${dir}/pids.current`;
    return parseSingleValue(readCgroupFile(file), file);
  },

  io(dir: string): IoReading {
    const bytesFile = `${dir}/blkio.throttle.io_service_bytes_recursive`;
    const opsFile = `${dir}/blkio.throttle.io_serviced_recursive`;
    const bytes = sumOps(bytesFile, readCgroupFile(bytesFile));
    const ops = sumOps(opsFile, readCgroupFile(opsFile));
    return {
      readBytes: bytes.read,
      writeBytes: bytes.write,
      readOps: ops.read,
      writeOps: ops.write,
    };
  },

  pressure(dir: string, resource: "cpu" | "memory" | "io") {
    // v1 hierarchies have no PSI files; a hybrid node's unified hierarchy may.
    const file = `${dir}/${resource}.pressure`;
    const text = readOptionalCgroupFile(file);
    return text === undefined ? undefined : parsePressure(text, file);
  },
};
