/**
 * The kernel's pseudo-filesystems (`/proc`, `/sys`, `/dev`), read and written through libc.
 *
 * Why: Deno grants any path under `/proc`, `/sys` or `/dev` only to a process started with
 * `--allow-all` ("Requires all access", measured on 2.9.6; an explicit `--allow-read=/proc`
 * is not enough, and `--allow-all` cannot be combined with `--deny-*`). The agent and the
 * shims must read `/proc` (mountinfo, their own status, children) and read and write
 * cgroupfs, yet run with explicit permission sets. So these paths go through libc here,
 * and everything else through Deno's own APIs and permission checks.
 *
 * Going around Deno's check must not open a wider door than it closes: only the kernel
 * interfaces sauropod uses are served ({@link KERNEL_INTERFACES}), per operation. A path
 * outside them fails with `Deno.errors.NotCapable`, as Deno would fail it, so
 * `/proc/self/root/…`, `/proc/<pid>/environ`, `/proc/self/mem` or a read of a device stay
 * closed. Paths must be absolute and plain (no `.`, `..` or empty components); reads and
 * writes do not follow a symlink in the last component.
 *
 * The functions mirror the `Deno.*` names and errors (`Deno.errors.NotFound` for ENOENT…,
 * messages ending in `(os error N)`), so a call site swaps `Deno.readTextFileSync` for
 * `kernfs.readTextFileSync` and keeps its error handling. For paths outside the pseudo-
 * filesystems they simply call Deno, so tests on fixture trees need no FFI permission.
 * Kernel files are answered from memory; the async variants exist for call-site symmetry.
 *
 * @module
 */
import { cstring, Errno, errno, openLibc, strerror } from "./_libc.ts";

const symbols = {
  /** int open(const char *pathname, int flags, mode_t mode); */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count); */
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** int mkdir(const char *pathname, mode_t mode); */
  mkdir: { parameters: ["buffer", "u32"], result: "i32" },
  /** int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf); */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  /** DIR *opendir(const char *name); */
  opendir: { parameters: ["buffer"], result: "pointer" },
  /** struct dirent *readdir(DIR *dirp); */
  readdir: { parameters: ["pointer"], result: "pointer" },
  /** int closedir(DIR *dirp); */
  closedir: { parameters: ["pointer"], result: "i32" },
  /** ssize_t readlink(const char *path, char *buf, size_t bufsiz); */
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  /** char *realpath(const char *path, char *resolved_path); (resolved_path: PATH_MAX bytes) */
  realpath: { parameters: ["buffer", "buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);
// Opened at import when FFI is granted: the library stays loaded by design, and a lazy open
// would be charged by Deno's resource sanitizer to whichever test first touches /proc. A
// process without FFI (a sandboxed test on fixture trees) never opens it.
if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
  libc();
  errno(); // and the errno helpers every error message uses
}

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;
const O_NOFOLLOW = 0o400000;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
/** STATX_BASIC_STATS: type, mode, nlink, uid, gid, times, ino, size, blocks. */
const STATX_BASIC_STATS = 0x7ff;
const STATX_SIZE = 256;
const EINTR = 4;
const ENODEV = 19;
const EISDIR = 21;
const EBUSY = 16;

/** What a caller may do to a kernel path. */
export type KernelOp = "read" | "write" | "mkdir" | "stat" | "readDir" | "readLink" | "realPath";

const PID = String.raw`(?:self|thread-self|\d+)`;
const CGROUP = String.raw`/sys/fs/cgroup(?:/[^/]+)*`;

/**
 * The kernel interfaces sauropod uses, per operation: cgroupfs (stats, pod cgroups, OOM
 * watches), a process's own facts and its children, mount tables, namespace identities,
 * module parameters (overlay's, whether AppArmor is enabled), AppArmor's list of loaded
 * profiles and the agent's own profile, and device nodes listed for privileged containers.
 */
export const KERNEL_INTERFACES: Readonly<Record<KernelOp, readonly RegExp[]>> = {
  read: [
    new RegExp(`^${CGROUP}$`),
    /^\/sys\/module\/[^/]+\/parameters\/[^/]+$/,
    /^\/proc\/filesystems$/,
    new RegExp(
      `^/proc/${PID}/(?:stat|status|cmdline|comm|cgroup|mountinfo|oom_score_adj|uid_map|gid_map)$`,
    ),
    // The agent's own fd limit, for its process_max_fds metric.
    /^\/proc\/self\/limits$/,
    new RegExp(`^/proc/${PID}/task/\\d+/children$`),
    /^\/sys\/kernel\/security\/apparmor\/profiles$/,
    /^\/proc\/self\/attr\/current$/,
  ],
  write: [
    new RegExp(`^${CGROUP}$`),
    // The id maps of a user namespace the agent made (the idmap probe's).
    /^\/proc\/\d+\/(?:uid_map|gid_map|setgroups)$/,
  ],
  mkdir: [new RegExp(`^${CGROUP}$`)],
  // Metadata only, anywhere below the three roots: a CRI mount or device may name any of
  // them as its host path (node-exporter mounts /proc and /sys, device plugins /dev/…).
  stat: [/^\/(?:proc|sys|dev)(?:\/[^/]+)*$/],
  readDir: [
    new RegExp(`^${CGROUP}$`),
    new RegExp(`^/proc/${PID}/task$`),
    // The agent's own open descriptors, counted for its process_open_fds metric.
    /^\/proc\/self\/fd$/,
    /^\/dev(?:\/[^/]+)*$/,
    // The node's huge page sizes (hugepages-2048kB…), which the kubelet's limits name.
    /^\/sys\/kernel\/mm\/hugepages$/,
  ],
  readLink: [new RegExp(`^/proc/${PID}/ns/[a-z_]+$`)],
  // Resolving a host path to where it really is (`/dev/disk/by-id/x` → `/dev/sda`).
  realPath: [/^\/(?:proc|sys|dev)(?:\/[^/]+)*$/],
};

/** True for a path inside `/proc`, `/sys` or `/dev` (Deno serves those to --allow-all only). */
export function isKernelPath(path: string): boolean {
  return /^\/(?:proc|sys|dev)(?:\/|$)/.test(path);
}

/** Throws NotCapable unless `op` on `path` is one of {@link KERNEL_INTERFACES}. */
export function checkKernelAccess(op: KernelOp, path: string): void {
  const plain = path.startsWith("/") &&
    !path.slice(1).split("/").some((c) => c === "" || c === "." || c === "..");
  if (plain && KERNEL_INTERFACES[op].some((re) => re.test(path))) return;
  throw new Deno.errors.NotCapable(
    `${op} of ${path} is not among the kernel interfaces sauropod uses (ffi/kernfs.ts)`,
  );
}

function osError(op: string, path: string, code: number): Error {
  const msg = `${strerror(code)} (os error ${code}): ${op} '${path}'`;
  switch (code) {
    case Errno.ENOENT:
      return new Deno.errors.NotFound(msg);
    case Errno.EEXIST:
      return new Deno.errors.AlreadyExists(msg);
    case Errno.EPERM:
    case Errno.EACCES:
      return new Deno.errors.PermissionDenied(msg);
    case Errno.ENOTDIR:
      return new Deno.errors.NotADirectory(msg);
    case EISDIR:
      return new Deno.errors.IsADirectory(msg);
    case EBUSY:
      return new Deno.errors.Busy(msg);
    case Errno.EINVAL:
      return new Deno.errors.InvalidData(msg);
    default:
      // ENODEV (a removed cgroup's open file) and the rest: callers match "(os error N)".
      return new Error(msg);
  }
}

function openKernel(op: string, path: string, flags: number): number {
  while (true) {
    const fd = libc().symbols.open(cstring(path), flags | O_CLOEXEC | O_NOFOLLOW, 0);
    if (fd >= 0) return fd;
    const code = errno();
    if (code !== EINTR) throw osError(op, path, code);
  }
}

function closeKernel(fd: number): void {
  libc().symbols.close(fd);
}

// One read buffer for the isolate: the reads are synchronous, and kernel files are small,
// so a fresh 64 KiB buffer per read would cost more than the read itself.
const READ_BUF = new Uint8Array(64 * 1024);
const decoder = new TextDecoder();

function readText(path: string): string {
  checkKernelAccess("read", path);
  const fd = openKernel("open", path, O_RDONLY);
  let text = "";
  try {
    while (true) {
      const n = Number(libc().symbols.read(fd, READ_BUF, BigInt(READ_BUF.length)));
      if (n < 0) {
        const code = errno();
        if (code === EINTR) continue;
        throw osError("read", path, code);
      }
      if (n === 0) break;
      text += decoder.decode(READ_BUF.subarray(0, n), { stream: true });
    }
  } finally {
    closeKernel(fd);
    // Flushes the decoder, also after a failed read, so no half character carries over.
    text += decoder.decode();
  }
  return text;
}

/** Like `Deno.readTextFileSync`, for kernel files too. */
export function readTextFileSync(path: string): string {
  if (!isKernelPath(path)) return Deno.readTextFileSync(path);
  return readText(path);
}

/** Like `Deno.readTextFile`, for kernel files too. */
export function readTextFile(path: string): Promise<string> {
  if (!isKernelPath(path)) return Deno.readTextFile(path);
  return settle(() => readTextFileSync(path));
}

/**
 * Like `Deno.writeTextFileSync(path, data, { create: false })`: writes an existing file
 * (a cgroup interface file) in one `write(2)`, as the kernel wants cgroup values.
 */
export function writeTextFileSync(path: string, data: string): void {
  if (!isKernelPath(path)) return Deno.writeTextFileSync(path, data, { create: false });
  checkKernelAccess("write", path);
  const bytes = new TextEncoder().encode(data);
  const fd = openKernel("open", path, O_WRONLY);
  try {
    let at = 0;
    while (at < bytes.length) {
      const rest = bytes.subarray(at);
      const n = Number(libc().symbols.write(fd, rest, BigInt(rest.length)));
      if (n < 0) {
        const code = errno();
        if (code === EINTR) continue;
        throw osError("write", path, code);
      }
      at += n;
    }
  } finally {
    closeKernel(fd);
  }
}

/** Like `Deno.mkdirSync(path, { mode })` (not recursive): a new cgroup. */
export function mkdirSync(path: string, opts: { mode?: number } = {}): void {
  if (!isKernelPath(path)) return Deno.mkdirSync(path, opts);
  checkKernelAccess("mkdir", path);
  if (libc().symbols.mkdir(cstring(path), opts.mode ?? 0o755) < 0) {
    throw osError("mkdir", path, errno());
  }
}

/** `makedev(3)` as glibc encodes it, which is what `Deno.FileInfo.dev`/`rdev` hold. */
function makedev(major: number, minor: number): number {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return Number(
    ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
      (mi & 0xffn),
  );
}

const S_IFMT = 0o170000;

/** A `Deno.FileInfo` from `struct statx` (include/uapi/linux/stat.h; the layout is fixed). */
export function fileInfoFromStatx(buf: Uint8Array): Deno.FileInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const time = (off: number): Date =>
    new Date(
      Number(v.getBigInt64(off, true)) * 1000 + Math.floor(v.getUint32(off + 8, true) / 1e6),
    );
  const mode = v.getUint16(28, true);
  const type = mode & S_IFMT;
  return {
    isFile: type === 0o100000,
    isDirectory: type === 0o040000,
    isSymlink: type === 0o120000,
    size: Number(v.getBigUint64(40, true)),
    atime: time(64),
    birthtime: time(80),
    ctime: time(96),
    mtime: time(112),
    dev: makedev(v.getUint32(136, true), v.getUint32(140, true)),
    ino: Number(v.getBigUint64(32, true)),
    mode,
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    rdev: makedev(v.getUint32(128, true), v.getUint32(132, true)),
    blksize: v.getUint32(4, true),
    blocks: Number(v.getBigUint64(48, true)),
    isBlockDevice: type === 0o060000,
    isCharDevice: type === 0o020000,
    isFifo: type === 0o010000,
    isSocket: type === 0o140000,
  };
}

function statKernel(path: string, follow: boolean): Deno.FileInfo {
  checkKernelAccess("stat", path);
  const buf = new Uint8Array(STATX_SIZE);
  const flags = follow ? 0 : AT_SYMLINK_NOFOLLOW;
  if (libc().symbols.statx(AT_FDCWD, cstring(path), flags, STATX_BASIC_STATS, buf) < 0) {
    throw osError(follow ? "stat" : "lstat", path, errno());
  }
  return fileInfoFromStatx(buf);
}

/** Like `Deno.statSync`, for kernel paths too. */
export function statSync(path: string): Deno.FileInfo {
  return isKernelPath(path) ? statKernel(path, true) : Deno.statSync(path);
}

/** Like `Deno.lstatSync`, for kernel paths too. */
export function lstatSync(path: string): Deno.FileInfo {
  return isKernelPath(path) ? statKernel(path, false) : Deno.lstatSync(path);
}

/** Like `Deno.stat`, for kernel paths too. */
export function stat(path: string): Promise<Deno.FileInfo> {
  return isKernelPath(path) ? settle(() => statKernel(path, true)) : Deno.stat(path);
}

/** Like `Deno.lstat`, for kernel paths too. */
export function lstat(path: string): Promise<Deno.FileInfo> {
  return isKernelPath(path) ? settle(() => statKernel(path, false)) : Deno.lstat(path);
}

/** `struct dirent` (glibc, 64-bit): d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name. */
const DIRENT_TYPE = 18;
const DIRENT_NAME = 19;
const DT = { DIR: 4, REG: 8, LNK: 10 } as const;

/** Like `Deno.readDirSync` (without `.` and `..`), for kernel directories too. */
export function readDirSync(path: string): Deno.DirEntry[] {
  if (!isKernelPath(path)) return [...Deno.readDirSync(path)];
  checkKernelAccess("readDir", path);
  const dir = libc().symbols.opendir(cstring(path));
  if (dir === null) throw osError("opendir", path, errno());
  try {
    const out: Deno.DirEntry[] = [];
    // A NULL from readdir ends the listing; on procfs/sysfs that also covers a directory
    // vanishing underneath (a task that exits), which callers treat as "gone" anyway.
    for (let e = libc().symbols.readdir(dir); e !== null; e = libc().symbols.readdir(dir)) {
      const view = new Deno.UnsafePointerView(e);
      const name = view.getCString(DIRENT_NAME);
      if (name === "." || name === "..") continue;
      const type = view.getUint8(DIRENT_TYPE);
      out.push({
        name,
        isFile: type === DT.REG,
        isDirectory: type === DT.DIR,
        isSymlink: type === DT.LNK,
      });
    }
    return out;
  } finally {
    libc().symbols.closedir(dir);
  }
}

/** Like `Deno.readDir`, for kernel directories too. */
export async function* readDir(path: string): AsyncIterable<Deno.DirEntry> {
  if (!isKernelPath(path)) {
    yield* Deno.readDir(path);
    return;
  }
  yield* readDirSync(path);
}

/** Like `Deno.readLinkSync`, for kernel links too (`/proc/<pid>/ns/net` → `net:[4026…]`). */
export function readLinkSync(path: string): string {
  if (!isKernelPath(path)) return Deno.readLinkSync(path);
  checkKernelAccess("readLink", path);
  const buf = new Uint8Array(4096);
  const n = Number(libc().symbols.readlink(cstring(path), buf, BigInt(buf.length)));
  if (n < 0) throw osError("readlink", path, errno());
  return new TextDecoder().decode(buf.subarray(0, n));
}

const PATH_MAX = 4096;

/**
 * Like `Deno.realPathSync`, for kernel paths too. A path outside the kernel's trees that
 * resolves into them (`/etc/mtab` → `/proc/self/mounts`) resolves too: Deno checks the
 * path it is given, and the result is only a name.
 */
export function realPathSync(path: string): string {
  if (!isKernelPath(path)) return Deno.realPathSync(path);
  checkKernelAccess("realPath", path);
  const buf = new Uint8Array(PATH_MAX);
  if (libc().symbols.realpath(cstring(path), buf) === null) {
    throw osError("realpath", path, errno());
  }
  return new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
}

/** Like `Deno.realPath`, for kernel paths too. */
export function realPath(path: string): Promise<string> {
  return isKernelPath(path) ? settle(() => realPathSync(path)) : Deno.realPath(path);
}

/** True when `err` says a kernel object is gone: ENOENT, or ENODEV from a dead cgroup. */
export function isGoneError(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err instanceof Error && err.message.includes(`(os error ${ENODEV})`));
}

function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
