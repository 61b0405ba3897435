/**
 * The command line of a shim: Deno's permissions, the V8 flags that keep it small, and
 * the shim's own arguments.
 *
 * Permissions are `--allow-all`, on purpose. The shim must read `/proc` (its children,
 * the init's cgroup, `/proc/self/mountinfo`) and read and write cgroupfs (the OOM watch
 * reads `memory.oom_control`/`memory.events` and, on cgroup v1, registers an eventfd
 * through `cgroup.event_control`). Since 1.43 Deno grants `/proc`, `/sys`, `/dev` and
 * `/etc` only to `--allow-all` (GHSA-23rx-c3g5-hv9w): `--allow-read=/proc` is refused
 * with "Requires all access" (measured on 2.9.6). It also needs `--allow-ffi` for libc
 * (subreaper, waitpid, ptys, SCM_RIGHTS), which is all-powerful in itself. Scoped
 * read/write/run flags would therefore protect nothing while breaking the OOM watch, so
 * the shim's real boundary is its small, audited import graph, not Deno's sandbox.
 *
 * @module
 */

/**
 * V8 flags of every shim, chosen by measurement (30 shims supervising `sleep`, PSS from
 * smaps_rollup): a 1 MiB young generation instead of up to 16 MiB, and no V8 worker
 * threads (no concurrent GC or compiler threads and their stacks and arenas).
 */
export const SHIM_V8_FLAGS = ["--max-semi-space-size=1", "--single-threaded"];

/** Inputs of {@link shimArgv}. */
export interface ShimArgvOptions {
  /** Absolute path of the entry module (`main.ts`). */
  entry: string;
  id: string;
  stateDir: string;
  logLevel?: string;
  /** Override of {@link SHIM_V8_FLAGS} (measurements). */
  v8Flags?: string[];
  bootstrapTimeoutMs?: number;
}

/** The arguments to `deno` that start one shim. */
export function shimArgv(o: ShimArgvOptions): string[] {
  const v8 = o.v8Flags ?? SHIM_V8_FLAGS;
  return [
    "run",
    "--no-prompt",
    "--allow-all",
    ...(v8.length > 0 ? [`--v8-flags=${v8.join(",")}`] : []),
    o.entry,
    "shim",
    "--id",
    o.id,
    "--state-dir",
    o.stateDir,
    "--log-level",
    o.logLevel ?? "info",
    ...(o.bootstrapTimeoutMs ? ["--bootstrap-timeout-ms", String(o.bootstrapTimeoutMs)] : []),
  ];
}
