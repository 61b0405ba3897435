/**
 * The command line of a shim: Deno permissions narrowed to what one container's shim
 * touches, the V8 flags that keep it small, and the shim's own arguments.
 *
 * What the shim touches through Deno's APIs, and so may:
 * - read and write its state dir (pid file, exit record, runc's log, its own log, exec
 *   pid files); listen on `unix:<stateDir>/ctl` (a unix socket is a `net`
 *   descriptor matched exactly);
 * - write the directory of the container's CRI log (it creates, and on rotation reopens,
 *   the file there);
 * - run exactly the runtime binary;
 * - FFI into libc: subreaper, waitpid, kill, ptys, SCM_RIGHTS, and `/proc`/`/sys` (its
 *   children, the init's cgroup, the OOM watch), which Deno serves only to `--allow-all`
 *   and which therefore go through `ffi/kernfs.ts`. Pointer reads need the unscoped flag.
 *
 * No environment, no other program, no other path. This is narrower than deno.json's
 * `shim` set (which must cover every container's paths at once) and follows the test
 * tier's scratch directories without a separate set. FFI is total power in itself: these
 * flags guard against mistakes (a path that escapes, an unexpected program), not against
 * code calling libc on purpose.
 *
 * @module
 */
import { type RuntimeSpec, SOCKET_FILE } from "../protocol.ts";
import { DEFAULT_PATH } from "../../lib/exec.ts";

/**
 * V8 flags of every shim, chosen by measurement (shims supervising `sleep`, smaps_rollup;
 * `bench/shim_memory.ts`): a small young generation, no V8 worker threads (two
 * fewer threads per shim), and `gc()` for the shim's idle-time collection (`shim/server/_gc.ts`:
 * without it, memory grew ~250 KiB per ExecSync until V8's external-memory limit).
 */
export const SHIM_V8_FLAGS = ["--max-semi-space-size=1", "--single-threaded", "--expose-gc"];

/** Inputs of {@link shimArgv}. */
export interface ShimArgvOptions {
  /** Absolute path of the entry module (`main.ts`). */
  entry: string;
  id: string;
  stateDir: string;
  /** Absolute path of the OCI runtime binary. */
  runtimeBinary: string;
  /** The container's CRI log file, if any (its directory becomes writable). */
  logPath?: string;
  /** A directory the shim may write logs under (a spare shim: the pod's log directory). */
  logDir?: string;
  logLevel?: string;
  /** Override of {@link SHIM_V8_FLAGS} (measurements). */
  v8Flags?: string[];
  bootstrapTimeoutMs?: number;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** A comma-separated permission list; a comma inside a path would split it. */
function list(paths: string[]): string {
  for (const p of paths) {
    if (p.includes(",")) throw new RangeError(`a path with a comma cannot be a permission: ${p}`);
  }
  return [...new Set(paths)].join(",");
}

/** The arguments to `deno` that start one shim. */
export function shimArgv(o: ShimArgvOptions): string[] {
  const write = [o.stateDir];
  if (o.logPath) write.push(dirOf(o.logPath));
  if (o.logDir) write.push(o.logDir);
  const v8 = o.v8Flags ?? SHIM_V8_FLAGS;
  return [
    "run",
    "--no-prompt",
    `--allow-read=${list([o.stateDir])}`,
    `--allow-write=${list(write)}`,
    `--allow-run=${list([o.runtimeBinary])}`,
    `--allow-net=${list([`unix:${o.stateDir}/${SOCKET_FILE}`])}`,
    "--allow-ffi",
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

/** Inputs of {@link oneShotArgv}. */
export interface OneShotArgvOptions {
  /** Absolute path of the entry module (`main.ts`, or the bundled shim). */
  entry: string;
  op: "delete" | "list";
  runtime: RuntimeSpec;
  /** `delete`: the container and the state dir its runtime log goes to. */
  id?: string;
  stateDir?: string;
}

/**
 * The arguments to `deno` that run one shim command (`main.ts shim delete|list`): it may
 * run the runtime binary and, for `delete`, write its state dir; nothing else.
 */
export function oneShotArgv(o: OneShotArgvOptions): string[] {
  const rt = o.runtime;
  const dir = o.op === "delete" && o.stateDir ? [o.stateDir] : [];
  return [
    "run",
    "--no-prompt",
    ...(dir.length ? [`--allow-read=${list(dir)}`, `--allow-write=${list(dir)}`] : []),
    `--allow-run=${list([rt.binary])}`,
    o.entry,
    "shim",
    o.op,
    ...(o.op === "delete" ? ["--id", o.id ?? "", "--state-dir", o.stateDir ?? ""] : []),
    "--runtime-binary",
    rt.binary,
    "--runtime-root",
    rt.root,
    ...(rt.systemdCgroup ? ["--systemd-cgroup"] : []),
    "--timeout-ms",
    String(rt.callTimeoutMs),
  ];
}

/**
 * The environment of a shim process: a fixed PATH, Deno's cache location (without them
 * every shim would recompile) and glibc's arena limit, nothing of the agent's own.
 */
export function shimEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    // One malloc arena: the shim's JS runs on one thread, and every thread Deno's blocking
    // pool starts for a runc call would otherwise get an arena of its own that outlives it
    // (measured, bench/shim_memory.ts, 8 shims after 5 execs each: 14.2 vs 14.6 MiB USS).
    MALLOC_ARENA_MAX: "1",
  };
  for (const k of ["HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    try {
      const v = Deno.env.get(k);
      if (v) env[k] = v;
    } catch {
      // no env permission: defaults
    }
  }
  return env;
}
