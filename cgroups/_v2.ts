/**
 * The cgroup v2 reader (Documentation/admin-guide/cgroup-v2.rst): `cpu.stat` usage_usec
 * (present whether or not the cpu controller is enabled), `memory.current` /
 * `memory.stat` / `memory.max`, `memory.swap.current` / `memory.swap.max`,
 * `pids.current`, `io.stat`, and the PSI files `{cpu,memory,io}.pressure`
 * (Documentation/accounting/psi.rst).
 *
 * @module
 */
import { internal } from "../errors/mod.ts";
import { readCgroupFile, readOptionalCgroupFile } from "./_fs.ts";
import {
  parseFlatKeyed,
  parseIoStat,
  parseLimit,
  parsePressure,
  parseSingleValue,
} from "./parse.ts";
import type { CgroupReader, IoReading, MemoryReading, SwapReading } from "./readings.ts";

/** The `memory.stat` keys the stats use. */
const MEMORY_KEYS = new Set(["inactive_file", "anon", "pgfault", "pgmajfault"]);
const CPU_KEYS = new Set(["usage_usec"]);

function key(stat: Map<string, bigint>, name: string): bigint {
  return stat.get(name) ?? 0n;
}

/** Reads cgroup v2 directories. */
export const v2Reader: CgroupReader = {
  version: 2,

  cpuUsage(dir: string): bigint {
    const file = `${dir}/cpu.stat`;
    const usec = parseFlatKeyed(readCgroupFile(file), file, CPU_KEYS).get("usage_usec");
    if (usec === undefined) throw internal(`cgroup file ${file} has no usage_usec`);
    return usec * 1000n;
  },

  memory(dir: string): MemoryReading {
    const currentFile = `${dir}/memory.current`;
    const statFile = `${dir}/memory.stat`;
    const maxFile = `${dir}/memory.max`;
    const usageBytes = parseSingleValue(readCgroupFile(currentFile), currentFile);
    const stat = parseFlatKeyed(readCgroupFile(statFile), statFile, MEMORY_KEYS);
    return {
      usageBytes,
      inactiveFileBytes: key(stat, "inactive_file"),
      rssBytes: key(stat, "anon"),
      pageFaults: key(stat, "pgfault"),
      majorPageFaults: key(stat, "pgmajfault"),
      limitBytes: parseLimit(readCgroupFile(maxFile), maxFile),
    };
  },

  swap(dir: string): SwapReading | undefined {
    // Absent without CONFIG_SWAP / swap accounting, and in the root cgroup.
    const currentFile = `${dir}/memory.swap.current`;
    const current = readOptionalCgroupFile(currentFile);
    if (current === undefined) return undefined;
    const maxFile = `${dir}/memory.swap.max`;
    return {
      usageBytes: parseSingleValue(current, currentFile),
      limitBytes: parseLimit(readCgroupFile(maxFile), maxFile),
    };
  },

  pids(dir: string): bigint {
    const file = `${dir}/pids.current`;
    return parseSingleValue(readCgroupFile(file), file);
  },

  io(dir: string): IoReading {
    const file = `${dir}/io.stat`;
    let readBytes = 0n, writeBytes = 0n, readOps = 0n, writeOps = 0n;
    for (const c of parseIoStat(readCgroupFile(file), file).values()) {
      readBytes += c.get("rbytes") ?? 0n;
      writeBytes += c.get("wbytes") ?? 0n;
      readOps += c.get("rios") ?? 0n;
      writeOps += c.get("wios") ?? 0n;
    }
    return { readBytes, writeBytes, readOps, writeOps };
  },

  pressure(dir: string, resource: "cpu" | "memory" | "io") {
    // Absent when the kernel runs with psi=0 or without CONFIG_PSI.
    const file = `${dir}/${resource}.pressure`;
    const text = readOptionalCgroupFile(file);
    return text === undefined ? undefined : parsePressure(text, file);
  },
};
