/**
 * Shared plumbing for the libc bindings: opening libc once per symbol table and turning
 * a failed call's errno into an error that names the syscall.
 *
 * Each binding module (`process.ts`, `pty.ts`, …) declares its own symbol table
 * `as const satisfies Deno.ForeignLibraryInterface` and opens it lazily with
 * {@link openLibc}, so a process loads only the symbols it uses and never needs
 * `--allow-ffi` unless it calls one of them.
 *
 * @module
 */

/** The libc soname on glibc systems (Debian). */
export const LIBC = "libc.so.6";

const errnoSymbols = {
  /** int *__errno_location(void); */
  __errno_location: { parameters: [], result: "pointer" },
  /** char *strerror(int errnum); */
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let errnoLib: Deno.DynamicLibrary<typeof errnoSymbols> | undefined;

function errnoLibrary(): Deno.DynamicLibrary<typeof errnoSymbols> {
  errnoLib ??= Deno.dlopen(LIBC, errnoSymbols);
  return errnoLib;
}

/**
 * Opens libc with `symbols`, once: the returned function yields the same library on
 * every call.
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => Deno.DynamicLibrary<S> {
  let lib: Deno.DynamicLibrary<S> | undefined;
  // Opened at import when FFI is granted: a library first opened inside some later call
  // (or test) stays open for the life of the process anyway, and Deno's resource sanitizer
  // would blame whichever test happened to open it.
  if (ffiGranted()) lib = Deno.dlopen(LIBC, symbols);
  return () => (lib ??= Deno.dlopen(LIBC, symbols));
}

function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The calling thread's errno. Only meaningful right after a synchronous (not
 * `nonblocking`) call on the same thread: a nonblocking call runs on another thread and
 * its errno is lost, so nonblocking calls must return their error in the result instead.
 */
export function errno(): number {
  if (errnoView === undefined) {
    const p = errnoLibrary().symbols.__errno_location();
    if (p === null) return 0;
    errnoView = new Deno.UnsafePointerView(p);
  }
  return errnoView.getInt32();
}

/**
 * This thread's errno cell (its address is fixed for the thread's life; a worker has its own
 * module instance). Kept so that reading errno after a failed call runs no FFI call and
 * allocates nothing: an allocation can start a garbage collection on this thread, whose own
 * system calls may overwrite errno before it is read (seen: an unlinkat failing with EISDIR
 * read back as EAGAIN, under load, once in a few hundred thousand calls).
 */
let errnoView: Deno.UnsafePointerView | undefined;

/** The message libc gives for `code` (e.g. "No such process"). */
export function strerror(code: number): string {
  const p = errnoLibrary().symbols.strerror(code);
  if (p === null) return `errno ${code}`;
  return Deno.UnsafePointerView.getCString(p);
}

/** Common errno values (x86_64 and aarch64 Linux agree on these). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
} as const;

/** A failed libc call: `waitpid(1234): No child processes (ECHILD)`. */
export class SyscallError extends Error {
  /** The errno value. */
  readonly errno: number;
  /** The name of the failed call. */
  readonly syscall: string;

  /**
   * Builds the error for `syscall` failing with `code` (and optional detail like a path).
   * Code 0 means a call that ran off the JS thread (`nonblocking`), whose errno is lost.
   */
  constructor(syscall: string, code: number, detail?: string) {
    const name = Object.entries(Errno).find(([, v]) => v === code)?.[0];
    const what = code === 0
      ? "failed (its errno stays on the thread that ran it)"
      : `${strerror(code)}${name ? ` (${name})` : ""}`;
    super(`${syscall}${detail ? `(${detail})` : ""}: ${what}`);
    this.name = "SyscallError";
    this.errno = code;
    this.syscall = syscall;
  }
}

/** Throws {@link SyscallError} with the current errno when `result` is negative. */
export function check(syscall: string, result: number | bigint, detail?: string): number {
  const n = typeof result === "bigint" ? Number(result) : result;
  if (n < 0) throw new SyscallError(syscall, errno(), detail);
  return n;
}

/** A NUL-terminated copy of `s`, for `const char *` parameters. */
export function cstring(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
