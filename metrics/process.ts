/**
 * The agent's own process metrics under client_golang's standard names and types, read at
 * scrape time: CPU from the runtime's rusage, memory and descriptors from `/proc/self`
 * (through `ffi/kernfs.ts`: Deno serves /proc to --allow-all only).
 *
 * @module
 */
import client from "prom-client";
import process from "node:process";
import * as kernfs from "../ffi/kernfs.ts";

/** Registers the `process_*` families on `registers`. */
export function collectProcess(registers: client.Registry[]): void {
  new client.Counter({
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    registers,
    collect() {
      const u = process.cpuUsage();
      // A counter takes increments: reset, then set the running total.
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
  new client.Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  new client.Gauge({
    name: "process_virtual_memory_bytes",
    help: "Virtual memory size in bytes.",
    registers,
    collect() {
      const v = readOr(() => statField(kernfs.readTextFileSync("/proc/self/stat"), 23));
      if (v === undefined) this.reset();
      else this.set(v);
    },
  });
  new client.Gauge({
    name: "process_open_fds",
    help: "Number of open file descriptors.",
    registers,
    collect() {
      // The listing's own descriptor is among them, as in client_golang.
      const v = readOr(() => kernfs.readDirSync("/proc/self/fd").length);
      if (v === undefined) this.reset();
      else this.set(v);
    },
  });
  new client.Gauge({
    name: "process_max_fds",
    help: "Maximum number of open file descriptors.",
    registers,
    collect() {
      const v = readOr(() => limit(kernfs.readTextFileSync("/proc/self/limits"), "Max open files"));
      if (v === undefined) this.reset();
      else this.set(v);
    },
  });
  new client.Gauge({
    name: "process_virtual_memory_max_bytes",
    help: "Maximum amount of virtual memory available in bytes.",
    registers,
    collect() {
      const v = readOr(() =>
        limit(kernfs.readTextFileSync("/proc/self/limits"), "Max address space")
      );
      if (v === undefined) this.reset();
      else this.set(v);
    },
  });
  new client.Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers,
    collect() {
      // Deno's time origin is the moment the runtime started.
      this.set(Math.floor(performance.timeOrigin / 1000));
    },
  });
}

function readOr(read: () => number | undefined): number | undefined {
  try {
    const v = read();
    return v !== undefined && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Field `n` (1-based, as proc(5) numbers them) of a `/proc/<pid>/stat` line. */
export function statField(stat: string, n: number): number | undefined {
  // The command name (field 2) is in parentheses and may hold spaces or parentheses.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const v = rest[n - 3];
  return v === undefined ? undefined : Number(v);
}

/**
 * The soft limit `name` ("Max open files", "Max address space") in a `/proc/<pid>/limits`
 * text; `unlimited` is 2^64 − 1 (as client_golang reports it through procfs), which is 2^64 as a float.
 */
export function limit(limits: string, name: string): number | undefined {
  const m = limits.match(new RegExp(`^${name}\\s+(\\d+|unlimited)\\s`, "m"));
  if (!m) return undefined;
  return m[1] === "unlimited" ? 2 ** 64 : Number(m[1]); // 2^64 − 1 as a float
}
