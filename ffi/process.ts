/**
 * Process control Deno lacks: becoming a child subreaper, reaping one pid at a time, and
 * signalling a pid without `--allow-run`.
 *
 * There is deliberately no `waitpid(-1)`: Deno reaps its own `Deno.Command` children, and a
 * wildcard wait steals their exit statuses (their `status` then fails with ECHILD). Callers
 * reap only pids they own.
 *
 * @module
 */
import { check, Errno, errno, openLibc, SyscallError } from "./_libc.ts";

const symbols = {
  /** int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5); */
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  /** pid_t waitpid(pid_t pid, int *wstatus, int options); */
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int kill(pid_t pid, int sig); */
  kill: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);
// Opened at import when FFI is granted (as ffi/kernfs.ts does): a lazy open would be charged
// by Deno's resource sanitizer to whichever test first calls in.
if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
  libc();
  errno(); // and the errno helpers every error message uses
}

const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;
const WNOHANG = 1;

/**
 * Makes the calling process a child subreaper: orphaned descendants are re-parented to it
 * instead of to PID 1, so it can collect the exit status of a container init whose `runc`
 * parent has exited.
 */
export function setChildSubreaper(): void {
  check(
    "prctl(PR_SET_CHILD_SUBREAPER)",
    libc().symbols.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n),
  );
}

/** True when the calling process is a child subreaper. */
export function isChildSubreaper(): boolean {
  const out = new Int32Array(1);
  const ptr = Deno.UnsafePointer.value(Deno.UnsafePointer.of(out));
  check(
    "prctl(PR_GET_CHILD_SUBREAPER)",
    libc().symbols.prctl(PR_GET_CHILD_SUBREAPER, BigInt(ptr), 0n, 0n, 0n),
  );
  return out[0] !== 0;
}

/** How a process ended, decoded from a wait status. */
export type WaitStatus =
  | { readonly kind: "exited"; readonly code: number }
  | { readonly kind: "signaled"; readonly signal: number; readonly coreDumped: boolean };

/** Decodes a raw `wstatus` as the `WIFEXITED`/`WTERMSIG` macros do. */
export function decodeWaitStatus(raw: number): WaitStatus {
  const low = raw & 0x7f;
  if (low === 0) return { kind: "exited", code: (raw >> 8) & 0xff };
  return { kind: "signaled", signal: low, coreDumped: (raw & 0x80) !== 0 };
}

/** The shell convention for an exit code: the code itself, or 128 + the signal number. */
export function exitCodeOf(status: WaitStatus): number {
  return status.kind === "exited" ? status.code : 128 + status.signal;
}

/**
 * `waitpid(pid, WNOHANG)`: the status if `pid` has exited (and is now reaped), `undefined`
 * if it is still running, `"not-child"` if it is not (or no longer) a child of this process.
 */
export function reapPid(pid: number): WaitStatus | undefined | "not-child" {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new RangeError(`reapPid: pid must be a positive integer, got ${pid}`);
  }
  const status = new Int32Array(1);
  for (;;) {
    const r = libc().symbols.waitpid(pid, status, WNOHANG);
    if (r === pid) return decodeWaitStatus(status[0]!);
    if (r === 0) return undefined;
    const code = errno();
    if (code === Errno.EINTR) continue;
    if (code === Errno.ECHILD) return "not-child";
    throw new SyscallError("waitpid", code, String(pid));
  }
}

/**
 * Sends `signal` (a number) to `pid`. Returns false when the process no longer exists
 * (ESRCH); other failures throw. Signal 0 probes for existence.
 */
export function sendSignal(pid: number, signal: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new RangeError(`sendSignal: pid must be a positive integer, got ${pid}`);
  }
  if (libc().symbols.kill(pid, signal) === 0) return true;
  const code = errno();
  if (code === Errno.ESRCH) return false;
  throw new SyscallError("kill", code, `${pid}, ${signal}`);
}

/**
 * Sends `signal` to every process of the group `pgid` (`kill(-pgid, signal)`). Returns
 * false when the group has no process left (ESRCH); other failures throw. Unlike
 * `Deno.kill(-pgid)`, this needs no unscoped `--allow-run`.
 */
export function signalProcessGroup(pgid: number, signal: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) {
    throw new RangeError(`signalProcessGroup: pgid must be an integer above 1, got ${pgid}`);
  }
  if (libc().symbols.kill(-pgid, signal) === 0) return true;
  const code = errno();
  if (code === Errno.ESRCH) return false;
  throw new SyscallError("kill", code, `-${pgid}, ${signal}`);
}

/** Signal numbers by name (x86_64 and aarch64 Linux agree on these). */
export const Signal = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGWINCH: 28,
} as const;
