/**
 * File-system calls that resolve names beneath a directory file descriptor and never
 * follow a symlink, for writing trees whose names come from untrusted input (image layers).
 *
 * A path handed to the kernel as a string is resolved when the call runs, through whatever
 * the tree holds at that moment. Here every multi-component path goes through `openat2(2)`
 * with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`:
 * the kernel refuses `..` above the starting directory, absolute names, any symlink (magic
 * `/proc` links included) and mount crossings, atomically with the lookup. Everything else
 * works on the resulting descriptor or on one name inside it (`mkdirat`, `openat` with
 * `O_CREAT|O_EXCL|O_NOFOLLOW`, `symlinkat`, `linkat` without follow, `mknodat`, `unlinkat`,
 * `renameat2`, `fchownat`/`utimensat` with `AT_SYMLINK_NOFOLLOW`, `f*` calls on the fd), and
 * no final name is ever followed. `openat2` needs Linux 5.6; the nodes sauropod supports
 * (Debian 12, kernel 6.1) have it, so there is no per-component fallback: an older kernel
 * fails with ENOSYS rather than running a second, less tested resolver.
 *
 * Every descriptor is `O_CLOEXEC` and owned by an {@link Fd} (`using fd = …`). The calls are
 * synchronous on the calling thread (microseconds each, and errno stays readable), except
 * `syncfs`/`fsync`, which can take seconds and run off-thread; their errno is lost there,
 * so their errors say so.
 *
 * @module
 */
import { check, cstring, Errno, errno, openLibc, SyscallError } from "./_libc.ts";

const symbols = {
  /** long syscall(long number, ...); used for openat2(int dirfd, const char *path,
   *  struct open_how *how, size_t size), which glibc does not wrap. */
  openat2: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "buffer", "usize"],
    result: "i64",
  },
  /** int openat(int dirfd, const char *path, int flags, mode_t mode); */
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** int mkdirat(int dirfd, const char *path, mode_t mode); */
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int symlinkat(const char *target, int newdirfd, const char *linkpath); */
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  /** int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
   *             int flags); */
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  /** int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev); */
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  /** int unlinkat(int dirfd, const char *path, int flags); */
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
   *                unsigned int flags); */
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  /** int fchown(int fd, uid_t owner, gid_t group); */
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  /** int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags); */
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  /** int fchmod(int fd, mode_t mode); */
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  /** int fchmodat(int dirfd, const char *path, mode_t mode, int flags); */
  fchmodat: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  /** int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags); */
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int futimens(int fd, const struct timespec times[2]); */
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  /** int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags); */
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  /** int lsetxattr(const char *path, const char *name, const void *value, size_t size,
   *                int flags); */
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  /** int statx(int dirfd, const char *path, int flags, unsigned int mask,
   *            struct statx *buf); */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t getdents64(int fd, void *dirp, size_t count); */
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** off_t lseek(int fd, off_t offset, int whence); */
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  // Off-thread twins of the calls that make inodes or write data, which cost the kernel
  // tens to hundreds of microseconds each: run on Deno's blocking pool so the JS thread
  // can parse and hash the next members meanwhile. Their errno stays on the pool thread.
  openatOff: {
    name: "openat",
    parameters: ["i32", "buffer", "i32", "u32"],
    result: "i32",
    nonblocking: true,
  },
  mkdiratOff: {
    name: "mkdirat",
    parameters: ["i32", "buffer", "u32"],
    result: "i32",
    nonblocking: true,
  },
  symlinkatOff: {
    name: "symlinkat",
    parameters: ["buffer", "i32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  linkatOff: {
    name: "linkat",
    parameters: ["i32", "buffer", "i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  mknodatOff: {
    name: "mknodat",
    parameters: ["i32", "buffer", "u32", "u64"],
    result: "i32",
    nonblocking: true,
  },
  writeOff: {
    name: "write",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  /** int syncfs(int fd); off-thread: it waits for the disk. */
  syncfs: { parameters: ["i32"], result: "i32", nonblocking: true },
  /** int fsync(int fd); off-thread: it waits for the disk. */
  fsync: { parameters: ["i32"], result: "i32", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const SYS_OPENAT2 = 437; // the same on x86_64 and aarch64 (numbers ≥ 424 are shared)
const AT_FDCWD = -100;
/** Do not follow a final symlink (`fchownat`, `utimensat`, `statx`). */
export const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;

const RESOLVE_NO_XDEV = 0x01;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
/** The resolution every {@link openBeneath} uses. */
export const RESOLVE_STRICT = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
  RESOLVE_NO_XDEV;
/**
 * Beneath `dir`, but following symlinks that stay beneath it (relative ones; an absolute
 * target or a `..` above `dir` is EXDEV), as Go's `os.OpenInRoot` resolves: for trees that
 * are read, never written (an image's files, which use such links: `/bin -> usr/bin`).
 */
export const RESOLVE_BENEATH_FOLLOW = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

const ARM = Deno.build.arch === "aarch64";
/** `open(2)` flags; `O_DIRECTORY` and `O_NOFOLLOW` differ between x86_64 and aarch64. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  DIRECTORY: ARM ? 0o40000 : 0o200000,
  NOFOLLOW: ARM ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** `renameat2` flags. */
export const RENAME_NOREPLACE = 1;
/** Atomically exchange the two names. */
export const RENAME_EXCHANGE = 2;

/** File type bits of `st_mode` (`<sys/stat.h>`). */
export const S_IFMT = 0o170000;
/** FIFO. */
export const S_IFIFO = 0o010000;
/** Character device. */
export const S_IFCHR = 0o020000;
/** Directory. */
export const S_IFDIR = 0o040000;
/** Block device. */
export const S_IFBLK = 0o060000;
/** Regular file. */
export const S_IFREG = 0o100000;
/** Symbolic link. */
export const S_IFLNK = 0o120000;

/** errno values this module's callers tell apart. */
export const FsErrno = { ...Errno, ENODATA: 61, ENOTSUP: 95 } as const;

/** An owned file descriptor; close it (or let `using` do it) exactly once. */
export class Fd implements Disposable {
  #fd: number;

  /** Takes ownership of `fd`. */
  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The descriptor number; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new SyscallError("fd", Errno.EBADF, "already closed");
    return this.#fd;
  }

  /** Closes the descriptor (idempotent). */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    // close(2) releases the fd even when it reports an error; nothing to retry.
    libc().symbols.close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const NUL = new Uint8Array(1);
function name(s: string): Uint8Array<ArrayBuffer> {
  return s === "" ? NUL : cstring(s);
}

/** Opens a path the agent trusts (its own directories), following nothing at the end. */
export function openPath(path: string, flags: number = O.RDONLY | O.DIRECTORY): Fd {
  const fd = libc().symbols.openat(AT_FDCWD, cstring(path), flags | O.CLOEXEC | O.NOFOLLOW, 0);
  return new Fd(check("open", fd, path));
}

const how = new Uint8Array(24);
const howView = new DataView(how.buffer);

/**
 * Opens `path` (relative, `""` is `dir` itself) beneath `dir` with {@link RESOLVE_STRICT}:
 * ELOOP for any symlink on the way (a final one too, unless `flags` has `O_PATH|O_NOFOLLOW`,
 * which opens the link itself), EXDEV for `..` above `dir`, an absolute path or a mount.
 * `resolve` may relax that to {@link RESOLVE_BENEATH_FOLLOW}.
 */
export function openBeneath(
  dir: Fd,
  path: string,
  flags: number,
  mode = 0,
  resolve: number = RESOLVE_STRICT,
): Fd {
  howView.setBigUint64(0, BigInt(flags | O.CLOEXEC), true);
  howView.setBigUint64(8, BigInt(mode), true);
  howView.setBigUint64(16, BigInt(resolve), true);
  const r = libc().symbols.openat2(
    BigInt(SYS_OPENAT2),
    dir.fd,
    cstring(path === "" ? "." : path),
    how,
    24n,
  );
  return new Fd(check("openat2", r, path));
}

/**
 * Opens directory `path` beneath `dir` for `*at` calls only (`O_PATH`). A symlink, final or
 * not, is ELOOP (`O_NOFOLLOW` is left out on purpose: with it a final symlink would be
 * ENOTDIR, and callers tell "a symlink on the way" from "not a directory" by errno).
 */
export function openDirPath(dir: Fd, path: string): Fd {
  return openBeneath(dir, path, O.PATH | O.DIRECTORY);
}

/** Opens directory `path` beneath `dir` for reading and for `f*` calls (owner, mode, times). */
export function openDir(dir: Fd, path: string): Fd {
  return openBeneath(dir, path, O.RDONLY | O.DIRECTORY);
}

/**
 * Runs an off-thread call; when it fails, runs the same call again on this thread, where
 * errno is readable (each call either fails having changed nothing or succeeds, so the
 * retry reports the real error, or succeeds if the cause was passing).
 */
async function offThread(
  syscall: string,
  detail: string,
  off: () => Promise<number | bigint>,
  on: () => number | bigint,
): Promise<number> {
  const r = Number(await off());
  if (r >= 0) return r;
  return check(syscall, on(), detail);
}

const CREATE = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.NOCTTY | O.CLOEXEC;

/** Creates regular file `name` in `dir`, which must not exist (no symlink is followed). */
export function createFileSync(dir: Fd, file: string, mode = 0o600): Fd {
  return new Fd(check("openat", libc().symbols.openat(dir.fd, name(file), CREATE, mode), file));
}

/** {@link createFileSync} off the JS thread. */
export async function createFile(dir: Fd, file: string, mode = 0o600): Promise<Fd> {
  const n = name(file);
  const s = libc().symbols;
  const fd = await offThread(
    "openat",
    file,
    () => s.openatOff(dir.fd, n, CREATE, mode),
    () => s.openat(dir.fd, n, CREATE, mode),
  );
  return new Fd(fd);
}

/** Creates directory `name` in `dir` (the umask applies: chmod after for exact bits). */
export function makeDirAtSync(dir: Fd, file: string, mode = 0o700): void {
  check("mkdirat", libc().symbols.mkdirat(dir.fd, name(file), mode), file);
}

/** {@link makeDirAtSync} off the JS thread. */
export async function makeDirAt(dir: Fd, file: string, mode = 0o700): Promise<void> {
  const n = name(file);
  const s = libc().symbols;
  await offThread(
    "mkdirat",
    file,
    () => s.mkdiratOff(dir.fd, n, mode),
    () => s.mkdirat(dir.fd, n, mode),
  );
}

/** Creates symlink `name` → `target` in `dir`; the target is stored, never resolved. */
export function makeSymlinkAtSync(target: string, dir: Fd, file: string): void {
  check("symlinkat", libc().symbols.symlinkat(cstring(target), dir.fd, name(file)), file);
}

/** {@link makeSymlinkAtSync} off the JS thread. */
export async function makeSymlinkAt(target: string, dir: Fd, file: string): Promise<void> {
  const n = name(file);
  const t = cstring(target);
  const s = libc().symbols;
  await offThread(
    "symlinkat",
    file,
    () => s.symlinkatOff(t, dir.fd, n),
    () => s.symlinkat(t, dir.fd, n),
  );
}

/** glibc's `makedev`: the 64-bit dev_t encoding of a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) |
    ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/**
 * Creates a device node or FIFO `name` in `dir`. `type` is {@link S_IFCHR},
 * {@link S_IFBLK} or {@link S_IFIFO}; the umask applies to `perm`.
 */
export function makeNodeAtSync(
  dir: Fd,
  file: string,
  type: number,
  perm: number,
  major = 0,
  minor = 0,
): void {
  const r = libc().symbols.mknodat(
    dir.fd,
    name(file),
    type | (perm & 0o7777),
    makedev(major, minor),
  );
  check("mknodat", r, file);
}

/** {@link makeNodeAtSync} off the JS thread. */
export async function makeNodeAt(
  dir: Fd,
  file: string,
  type: number,
  perm: number,
  major = 0,
  minor = 0,
): Promise<void> {
  const n = name(file);
  const mode = type | (perm & 0o7777);
  const dev = makedev(major, minor);
  const s = libc().symbols;
  await offThread(
    "mknodat",
    file,
    () => s.mknodatOff(dir.fd, n, mode, dev),
    () => s.mknodat(dir.fd, n, mode, dev),
  );
}

/**
 * Links the inode open as `file` (any type but a directory; an `O_PATH` fd of a symlink
 * links the symlink) as `name` in `dir`: the very inode, not whatever a name resolves to
 * now. Needs CAP_DAC_READ_SEARCH (`AT_EMPTY_PATH`).
 */
export function linkFdSync(file: Fd, dir: Fd, link: string): void {
  const r = libc().symbols.linkat(file.fd, NUL, dir.fd, name(link), AT_EMPTY_PATH);
  check("linkat", r, link);
}

/** {@link linkFdSync} off the JS thread. */
export async function linkFd(file: Fd, dir: Fd, link: string): Promise<void> {
  const n = name(link);
  const s = libc().symbols;
  await offThread(
    "linkat",
    link,
    () => s.linkatOff(file.fd, NUL, dir.fd, n, AT_EMPTY_PATH),
    () => s.linkat(file.fd, NUL, dir.fd, n, AT_EMPTY_PATH),
  );
}

/** Hardlinks `old` in `oldDir` as `link` in `dir`, never following a symlink `old`. */
export function linkAt(oldDir: Fd, old: string, dir: Fd, link: string): void {
  const r = libc().symbols.linkat(oldDir.fd, name(old), dir.fd, name(link), 0);
  check("linkat", r, `${old} -> ${link}`);
}

/** Removes `name` from `dir`: a non-directory, or with `dir: true` an empty directory. */
export function unlinkAt(dir: Fd, file: string, opts: { dir?: boolean } = {}): void {
  const r = libc().symbols.unlinkat(dir.fd, name(file), opts.dir ? AT_REMOVEDIR : 0);
  check("unlinkat", r, file);
}

/** `renameat2`: renames (or with {@link RENAME_EXCHANGE} swaps) two names. */
export function renameAt(oldDir: Fd, old: string, dir: Fd, to: string, flags = 0): void {
  const r = libc().symbols.renameat2(oldDir.fd, name(old), dir.fd, name(to), flags);
  check("renameat2", r, `${old} -> ${to}`);
}

/** Sets the owner of the open file. */
export function chownFd(file: Fd, uid: number, gid: number): void {
  check("fchown", libc().symbols.fchown(file.fd, uid, gid));
}

/** Sets the owner of `name` in `dir` itself (a symlink is not followed). */
export function chownAt(dir: Fd, file: string, uid: number, gid: number): void {
  const r = libc().symbols.fchownat(dir.fd, name(file), uid, gid, AT_SYMLINK_NOFOLLOW);
  check("fchownat", r, file);
}

/** Sets the exact mode bits (setuid, setgid, sticky included) of the open file. */
export function chmodFd(file: Fd, mode: number): void {
  check("fchmod", libc().symbols.fchmod(file.fd, mode & 0o7777));
}

/**
 * Sets the mode of `name` in `dir` itself, for device nodes and FIFOs (which cannot be
 * opened for `fchmod` without side effects: a FIFO blocks, a device runs its driver's
 * open). Linux's `fchmodat` has no working `AT_SYMLINK_NOFOLLOW` before 6.6, so the inode
 * is pinned first with `O_PATH|O_NOFOLLOW` and changed through its `/proc/self/fd` magic
 * link, which names exactly that inode; a symlink is refused (its mode means nothing).
 */
export function chmodAt(dir: Fd, file: string, mode: number): void {
  using pinned = openBeneath(dir, file, O.PATH | O.NOFOLLOW);
  if ((statFd(pinned).mode & S_IFMT) === S_IFLNK) {
    throw new SyscallError("fchmodat", FsErrno.ELOOP, file);
  }
  const proc = cstring(`/proc/self/fd/${pinned.fd}`);
  check("fchmodat", libc().symbols.fchmodat(AT_FDCWD, proc, mode & 0o7777, 0), file);
}

function timespecs(atime: number, mtime: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  for (const [i, t] of [atime, mtime].entries()) {
    const sec = Math.floor(t);
    const nsec = Math.min(999_999_999, Math.max(0, Math.round((t - sec) * 1e9)));
    v.setBigInt64(i * 16, BigInt(sec), true);
    v.setBigInt64(i * 16 + 8, BigInt(nsec), true);
  }
  return b;
}

/** Sets access and modification times (seconds, with fractions) of the open file. */
export function setTimesFd(file: Fd, atime: number, mtime: number): void {
  check("futimens", libc().symbols.futimens(file.fd, timespecs(atime, mtime)));
}

/** Sets the times of `name` in `dir` itself (a symlink is not followed). */
export function setTimesAt(dir: Fd, file: string, atime: number, mtime: number): void {
  const r = libc().symbols.utimensat(
    dir.fd,
    name(file),
    timespecs(atime, mtime),
    AT_SYMLINK_NOFOLLOW,
  );
  check("utimensat", r, file);
}

function copy(value: Uint8Array): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(value.byteLength);
  buf.set(value);
  return buf;
}

/** Sets extended attribute `xname` on the open file. */
export function setXattrFd(file: Fd, xname: string, value: Uint8Array): void {
  const v = copy(value);
  const r = libc().symbols.fsetxattr(file.fd, cstring(xname), v, BigInt(v.length), 0);
  check("fsetxattr", r, xname);
}

/**
 * Sets extended attribute `xname` on `name` in `dir` itself, never following it: for
 * symlinks and device nodes, which cannot be opened for `fsetxattr`. Linux before 6.13 has
 * no `setxattrat`, so this goes through `/proc/self/fd/<dir>/<name>` with `lsetxattr`: the
 * magic link names exactly `dir`'s inode, and the last component is not followed.
 */
export function setXattrAt(dir: Fd, file: string, xname: string, value: Uint8Array): void {
  if (file.includes("/") || file === "" || file === "." || file === "..") {
    throw new SyscallError("lsetxattr", Errno.EINVAL, file);
  }
  const v = copy(value);
  const path = cstring(`/proc/self/fd/${dir.fd}/${file}`);
  const r = libc().symbols.lsetxattr(path, cstring(xname), v, BigInt(v.length), 0);
  check("lsetxattr", r, `${file}, ${xname}`);
}

/** What {@link statAt} reports. */
export interface Stat {
  /** Type and permission bits (`st_mode`). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  /** Device and inode, together the identity of the inode. */
  dev: bigint;
  ino: bigint;
  /** Seconds since the epoch, with fractions. */
  atime: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
}

const STATX_BASIC_STATS = 0x7ff;
const statBuf = new Uint8Array(256);
const statView = new DataView(statBuf.buffer);

function readStat(): Stat {
  const v = statView;
  const ts = (off: number) => Number(v.getBigInt64(off, true)) + v.getUint32(off + 8, true) / 1e9;
  return {
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    ino: v.getBigUint64(32, true),
    size: Number(v.getBigUint64(40, true)),
    atime: ts(64),
    mtime: ts(112),
    rdevMajor: v.getUint32(128, true),
    rdevMinor: v.getUint32(132, true),
    dev: (BigInt(v.getUint32(136, true)) << 32n) | BigInt(v.getUint32(140, true)),
  };
}

/** `statx` of `name` in `dir` itself (a symlink is not followed; `""` is `dir`). */
export function statAt(dir: Fd, file: string): Stat {
  const flags = AT_SYMLINK_NOFOLLOW | (file === "" ? AT_EMPTY_PATH : 0);
  const r = libc().symbols.statx(dir.fd, name(file), flags, STATX_BASIC_STATS, statBuf);
  check("statx", r, file);
  return readStat();
}

/** `statx` of the open file. */
export function statFd(file: Fd): Stat {
  return statAt(file, "");
}

/** Writes all of `data` to the open file. */
export function writeAllSync(file: Fd, data: Uint8Array): void {
  let off = 0;
  // A view into a bigger buffer is passed as is: Deno hands the pointer to its first byte.
  while (off < data.length) {
    const chunk = data.subarray(off) as Uint8Array<ArrayBuffer>;
    const n = Number(libc().symbols.write(file.fd, chunk, BigInt(chunk.length)));
    if (n < 0) {
      if (errno() === Errno.EINTR) continue;
      throw new SyscallError("write", errno());
    }
    off += n;
  }
}

/** {@link writeAllSync} off the JS thread (`data` must stay untouched until it settles). */
export async function writeAll(file: Fd, data: Uint8Array): Promise<void> {
  const s = libc().symbols;
  let off = 0;
  while (off < data.length) {
    const chunk = data.subarray(off) as Uint8Array<ArrayBuffer>;
    const len = BigInt(chunk.length);
    off += await offThread(
      "write",
      "",
      () => s.writeOff(file.fd, chunk, len),
      () => s.write(file.fd, chunk, len),
    );
  }
}

/** One entry of a directory listing. */
export interface DirEntry {
  name: string;
  /** `d_type`: 4 directory, 8 regular file, 10 symlink, 0 unknown (see getdents64(2)). */
  type: number;
}

const utf8 = new TextDecoder();
const direntBuf = new Uint8Array(32 << 10);
const direntView = new DataView(direntBuf.buffer);

/** The next batch of entries of the open directory (without `.` and `..`); `[]` at the end. */
export function readDirBatch(dir: Fd): DirEntry[] {
  const n = Number(libc().symbols.getdents64(dir.fd, direntBuf, BigInt(direntBuf.length)));
  if (n < 0) throw new SyscallError("getdents64", errno());
  const out: DirEntry[] = [];
  let off = 0;
  while (off < n) {
    const reclen = direntView.getUint16(off + 16, true);
    const type = direntBuf[off + 18]!;
    const start = off + 19;
    const end = direntBuf.indexOf(0, start);
    const entry = utf8.decode(direntBuf.subarray(start, end));
    if (entry !== "." && entry !== "..") out.push({ name: entry, type });
    off += reclen;
  }
  return out;
}

/** Every entry of the open directory, from the start. */
export function readDirAll(dir: Fd): DirEntry[] {
  check("lseek", libc().symbols.lseek(dir.fd, 0n, 0));
  const out: DirEntry[] = [];
  for (let b = readDirBatch(dir); b.length > 0; b = readDirBatch(dir)) out.push(...b);
  return out;
}

/**
 * Removes `name` in `dir` and, if it is a directory, everything beneath it, never following
 * a symlink (each level is opened `O_NOFOLLOW|O_DIRECTORY` relative to its parent's fd).
 * Iterative, holding two descriptors at any depth (it climbs back with `..`, which is safe
 * because the tree is the caller's alone while it is removed). Yields to the event loop
 * every `yieldEvery` removals so a big tree does not stall the process. A missing `name` is
 * fine.
 */
export async function removeTreeAt(
  dir: Fd,
  file: string,
  opts: { yieldEvery?: number } = {},
): Promise<void> {
  const s = libc().symbols;
  if (s.unlinkat(dir.fd, name(file), 0) === 0) return;
  const first = errno();
  if (first === FsErrno.ENOENT) return;
  if (first !== FsErrno.EISDIR) throw new SyscallError("unlinkat", first, file);
  const every = opts.yieldEvery ?? 1024;
  let budget = every;
  const names: string[] = [];
  let cur = openDir(dir, file);
  try {
    for (;;) {
      let descended = false;
      let removed = false;
      for (let batch = readDirBatch(cur); batch.length > 0; batch = readDirBatch(cur)) {
        for (const e of batch) {
          if (s.unlinkat(cur.fd, cstring(e.name), 0) === 0) {
            removed = true;
            if (--budget <= 0) {
              budget = every;
              await new Promise((r) => setTimeout(r, 0));
            }
            continue;
          }
          const code = errno();
          if (code === FsErrno.ENOENT) continue;
          if (code !== FsErrno.EISDIR) throw new SyscallError("unlinkat", code, e.name);
          const child = openBeneath(cur, e.name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
          cur.close();
          cur = child;
          names.push(e.name);
          descended = true;
          break;
        }
        if (descended) break;
      }
      if (descended) continue;
      if (removed) {
        // Entries removed while listing: list again from the start until a pass is clean.
        check("lseek", s.lseek(cur.fd, 0n, 0));
        continue;
      }
      // `cur` is empty: climb to its parent and remove it there.
      const leaf = names.pop();
      if (leaf === undefined) break;
      const parent = new Fd(
        check(
          "openat",
          s.openat(cur.fd, cstring(".."), O.RDONLY | O.DIRECTORY | O.NOFOLLOW | O.CLOEXEC, 0),
          "..",
        ),
      );
      cur.close();
      cur = parent;
      check("unlinkat", s.unlinkat(cur.fd, cstring(leaf), AT_REMOVEDIR), leaf);
    }
  } finally {
    cur.close();
  }
  check("unlinkat", s.unlinkat(dir.fd, name(file), AT_REMOVEDIR), file);
}

/** A failure of an off-thread call, whose errno the calling thread cannot see. */
function offThreadError(syscall: string, detail?: string): SyscallError {
  return new SyscallError(syscall, 0, detail);
}

/**
 * Flushes the whole file system holding `file` to disk (`syncfs`), off the JS thread. Since
 * Linux 5.8 it reports writeback errors (EIO, ENOSPC) of that file system.
 */
export async function syncFileSystem(file: Fd): Promise<void> {
  const r = await libc().symbols.syncfs(file.fd);
  if (r < 0) throw offThreadError("syncfs");
}

/** Flushes one file's data and metadata to disk (`fsync`), off the JS thread. */
export async function syncFile(file: Fd): Promise<void> {
  const r = await libc().symbols.fsync(file.fd);
  if (r < 0) throw offThreadError("fsync");
}
