/**
 * Parsers of the cgroup interface file formats, named after the kernel's conventions
 * (Documentation/admin-guide/cgroup-v2.rst, "Conventions" → "Interface Files"):
 *
 *   single value   `cpuacct.usage`, `memory.current`, `pids.current`, `memory.max` (or "max")
 *   flat keyed     `KEY VAL` per line: `memory.stat`, `cpu.stat`, `memory.events`,
 *                  v1 `memory.oom_control`, `cpuacct.stat`
 *   nested keyed   `KEY SUB=VAL SUB=VAL`: `io.stat`, PSI `cpu.pressure`…
 *   v1 blkio       `MAJ:MIN OP VALUE` + `Total N`: `blkio.throttle.io_service_bytes_recursive`
 *
 * Every parser is pure and names the file in its errors. Malformed kernel output is an
 * `internal` error (the machine misbehaved, not the caller), never a raw TypeError.
 *
 * @module
 */
import { internal, type SauropodError } from "../errors/mod.ts";

/** A counter or size as the kernel writes it: an unsigned decimal integer. */
const UINT = /^\d+$/;

function garbage(file: string, what: string): SauropodError {
  return internal(`cannot parse cgroup file ${file}: ${what}`);
}

function uint(file: string, s: string, where: string): bigint {
  if (!UINT.test(s)) {
    throw garbage(file, `${where}: ${JSON.stringify(s)} is not an unsigned integer`);
  }
  return BigInt(s);
}

/** Parses a file holding one unsigned integer (`memory.current`, `cpuacct.usage`). */
export function parseSingleValue(text: string, file: string): bigint {
  return uint(file, text.trim(), "value");
}

/**
 * Parses a single value that may be the literal `max` (v2 limits such as `memory.max`,
 * `pids.max`); `max` becomes null, meaning unlimited.
 */
export function parseLimit(text: string, file: string): bigint | null {
  const s = text.trim();
  return s === "max" ? null : uint(file, s, "value");
}

/**
 * Parses a flat-keyed file (`KEY VALUE` per line) with unsigned integer values. With
 * `only`, lines of other keys are skipped unparsed: `memory.stat` has some fifty lines
 * and the stats need four.
 */
export function parseFlatKeyed(
  text: string,
  file: string,
  only?: ReadonlySet<string>,
): Map<string, bigint> {
  const out = new Map<string, bigint>();
  let start = 0;
  for (let n = 1; start < text.length; n++) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line === "") continue;
    const sp = line.indexOf(" ");
    const key = sp < 0 ? line : line.slice(0, sp);
    if (only && !only.has(key)) continue;
    const value = sp < 0 ? "" : line.slice(sp + 1).trim();
    if (value === "" || /\s/.test(value)) {
      throw garbage(file, `line ${n}: want "KEY VALUE", got ${JSON.stringify(line)}`);
    }
    out.set(key, uint(file, value, `line ${n} (${key})`));
  }
  return out;
}

/**
 * Parses a nested-keyed file: `KEY SUB=VAL SUB=VAL…` per line. Values stay strings, since
 * their type depends on the file (integers in `io.stat`, decimals in PSI).
 */
export function parseNestedKeyed(text: string, file: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const [key, ...pairs] = line.split(/\s+/);
    const sub = new Map<string, string>();
    for (const pair of pairs) {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw garbage(file, `line ${i + 1}: ${JSON.stringify(pair)} is not SUB=VALUE`);
      sub.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    out.set(key!, sub);
  }
  return out;
}

/** One line of a PSI file: the share of wall time stalled, and the total stall time. */
export interface PressureData {
  /** Percent of the last 10 s (0–100, two decimals). */
  readonly avg10: number;
  /** Percent of the last 60 s. */
  readonly avg60: number;
  /** Percent of the last 300 s. */
  readonly avg300: number;
  /** Total stall time, microseconds. */
  readonly total: bigint;
}

/** A PSI file (`cpu.pressure`, `memory.pressure`, `io.pressure`). */
export interface Pressure {
  /** Some tasks stalled. */
  readonly some: PressureData;
  /** All non-idle tasks stalled; absent from `cpu.pressure` before Linux 5.13. */
  readonly full?: PressureData;
}

const DECIMAL = /^\d+(\.\d+)?$/;

function pressureLine(file: string, key: string, sub: Map<string, string>): PressureData {
  const avg = (name: string): number => {
    const v = sub.get(name);
    if (v === undefined || !DECIMAL.test(v)) {
      throw garbage(file, `"${key}" ${name}=${v ?? "(missing)"} is not a decimal`);
    }
    return Number(v);
  };
  const total = sub.get("total");
  if (total === undefined) throw garbage(file, `"${key}" has no total`);
  return {
    avg10: avg("avg10"),
    avg60: avg("avg60"),
    avg300: avg("avg300"),
    total: uint(file, total, `"${key}" total`),
  };
}

/**
 * Parses a PSI file (Documentation/accounting/psi.rst):
 * `some avg10=0.00 avg60=0.00 avg300=0.00 total=0` and the same for `full`.
 */
export function parsePressure(text: string, file: string): Pressure {
  const nested = parseNestedKeyed(text, file);
  const some = nested.get("some");
  if (!some) throw garbage(file, `no "some" line`);
  const full = nested.get("full");
  return full
    ? { some: pressureLine(file, "some", some), full: pressureLine(file, "full", full) }
    : { some: pressureLine(file, "some", some) };
}

/** v2 `io.stat`: per device (`MAJ:MIN`), integer counters (`rbytes`, `wios`…). */
export function parseIoStat(text: string, file: string): Map<string, Map<string, bigint>> {
  const out = new Map<string, Map<string, bigint>>();
  for (const [dev, sub] of parseNestedKeyed(text, file)) {
    const counters = new Map<string, bigint>();
    for (const [k, v] of sub) counters.set(k, uint(file, v, `${dev} ${k}`));
    out.set(dev, counters);
  }
  return out;
}

/** A v1 blkio statistics file, per device and operation. */
export interface BlkioStats {
  /** `MAJ:MIN` → operation (`Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`) → value. */
  readonly devices: Map<string, Map<string, bigint>>;
  /** The trailing `Total N` line over all devices, when present. */
  readonly total: bigint | undefined;
}

/**
 * Parses a v1 blkio per-device operation file such as
 * `blkio.throttle.io_service_bytes_recursive` (cgroup-v1/blkio-controller.rst):
 * `8:0 Read 4096` lines and a final `Total 4096`. A hierarchy with no I/O writes only
 * `Total 0`.
 */
export function parseBlkioRecursive(text: string, file: string): BlkioStats {
  const devices = new Map<string, Map<string, bigint>>();
  let total: bigint | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const parts = line.split(/\s+/);
    if (parts.length === 2 && parts[0] === "Total") {
      total = uint(file, parts[1]!, `line ${i + 1} (Total)`);
      continue;
    }
    if (parts.length !== 3 || !/^\d+:\d+$/.test(parts[0]!)) {
      throw garbage(file, `line ${i + 1}: want "MAJ:MIN OP VALUE", got ${JSON.stringify(line)}`);
    }
    const [dev, op, value] = parts as [string, string, string];
    let ops = devices.get(dev);
    if (!ops) devices.set(dev, ops = new Map());
    ops.set(op, uint(file, value, `line ${i + 1} (${dev} ${op})`));
  }
  return { devices, total };
}
