/**
 * Mounting overlayfs for container root filesystems.
 *
 * `mount(2)` passes every option in one string that the kernel copies into a single page,
 * so `lowerdir=a:b:c…` of a deep image can overflow it (containerd works around this by
 * chdir-ing a forked helper and using relative paths; a multithreaded Deno process cannot
 * chdir safely). Kernels from 6.8 on accept the layers one by one through the new mount
 * API (`fsopen` → `fsconfig("lowerdir+", …)` → `fsmount` → `move_mount`), with no length
 * limit; {@link mountOverlay} uses that when the option string would not fit.
 *
 * Calls are synchronous (not `nonblocking`) so errno is readable; overlay mounts of local
 * directories complete at once. Unmounting is `unmount` in `mount.ts`.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";
import { check, cstring, errno, openLibc, SyscallError } from "./_libc.ts";
import type { Fd } from "./beneath.ts";

const symbols = {
  /** int mount(const char *source, const char *target, const char *filesystemtype,
   *            unsigned long mountflags, const void *data); */
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  /** int fsopen(const char *fsname, unsigned int flags); */
  fsopen: { parameters: ["buffer", "u32"], result: "i32" },
  /** int fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux); */
  fsconfig: { parameters: ["i32", "u32", "buffer", "buffer", "i32"], result: "i32" },
  /** int fsmount(int fsfd, unsigned int flags, unsigned int attr_flags); */
  fsmount: { parameters: ["i32", "u32", "u32"], result: "i32" },
  /** int move_mount(int from_dirfd, const char *from_path, int to_dirfd,
   *                 const char *to_path, unsigned int flags); */
  move_mount: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** int sysconf(int name); for the page size */
  sysconf: { parameters: ["i32"], result: "i64" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const MS_RDONLY = 1n;
const FSOPEN_CLOEXEC = 1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 1;
const MOUNT_ATTR_RDONLY = 1;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const AT_FDCWD = -100;
const SC_PAGESIZE = 30;

/** What to stack: `lower` is ordered top layer first, as overlayfs wants it. */
export interface OverlayOptions {
  lower: string[];
  /** Writable layer; omit both `upper` and `work` for a read-only stack of lowers. */
  upper?: string;
  work?: string;
  /** Mount read-only (MS_RDONLY). */
  readonly?: boolean;
  /** Extra `key=value` or flag options, e.g. `index=off`. */
  extra?: string[];
}

/** The page size: the longest option string `mount(2)` accepts is one byte less. */
export function pageSize(): number {
  return Number(libc().symbols.sysconf(SC_PAGESIZE));
}

function escapeLower(p: string): string {
  // overlayfs splits lowerdir on ':' and honours '\' escapes; paths here never contain
  // either, but a stray one must not silently change the layer list.
  if (/[:,\\]/.test(p)) {
    throw invalidArgument(`overlay layer path "${p}" contains ':', ',' or '\\'`);
  }
  return p;
}

/** The classic option string; exported for tests of the length decision. */
export function overlayOptionString(o: OverlayOptions): string {
  const parts = [`lowerdir=${o.lower.map(escapeLower).join(":")}`];
  if (o.upper !== undefined) parts.push(`upperdir=${escapeLower(o.upper)}`);
  if (o.work !== undefined) parts.push(`workdir=${escapeLower(o.work)}`);
  parts.push(...(o.extra ?? []));
  return parts.join(",");
}

/**
 * Mounts an overlay on `target`. Uses `mount(2)` when the options fit in a page, the new
 * mount API with one `lowerdir+` per layer otherwise. Returns which path was taken.
 *
 * `target` may be an open directory instead of a path: the overlay then lands on exactly
 * that inode (`mount(2)` through its `/proc/self/fd` magic link, `move_mount` with
 * `MOVE_MOUNT_T_EMPTY_PATH`), whatever a path to it resolves to by then.
 */
export function mountOverlay(target: string | Fd, o: OverlayOptions): "mount" | "fsconfig" {
  if (o.lower.length === 0) throw invalidArgument("overlay needs at least one lower layer");
  if ((o.upper === undefined) !== (o.work === undefined)) {
    throw invalidArgument("overlay needs both upper and work directories, or neither");
  }
  const data = overlayOptionString(o);
  if (data.length < pageSize()) {
    const flags = o.readonly ? MS_RDONLY : 0n;
    const r = libc().symbols.mount(
      cstring("overlay"),
      cstring(typeof target === "string" ? target : `/proc/self/fd/${target.fd}`),
      cstring("overlay"),
      flags,
      cstring(data),
    );
    check("mount", r, `overlay on ${describe(target)}`);
    return "mount";
  }
  mountOverlayByFsconfig(target, o);
  return "fsconfig";
}

function describe(target: string | Fd): string {
  return typeof target === "string" ? target : `fd ${target.fd}`;
}

function mountOverlayByFsconfig(target: string | Fd, o: OverlayOptions): void {
  const s = libc().symbols;
  const fsfd = check("fsopen", s.fsopen(cstring("overlay"), FSOPEN_CLOEXEC), "overlay");
  let mfd = -1;
  try {
    const set = (key: string, value: string) => {
      const r = s.fsconfig(fsfd, FSCONFIG_SET_STRING, cstring(key), cstring(value), 0);
      check("fsconfig", r, `overlay ${key}=${value}`);
    };
    const flag = (key: string) => {
      const r = s.fsconfig(fsfd, FSCONFIG_SET_FLAG, cstring(key), null, 0);
      check("fsconfig", r, `overlay ${key}`);
    };
    set("source", "overlay");
    // "lowerdir+" appends one layer, top first, and takes the path verbatim (no escapes).
    for (const l of o.lower) set("lowerdir+", l);
    if (o.upper !== undefined) set("upperdir", o.upper);
    if (o.work !== undefined) set("workdir", o.work);
    for (const e of o.extra ?? []) {
      const eq = e.indexOf("=");
      if (eq === -1) flag(e);
      else set(e.slice(0, eq), e.slice(eq + 1));
    }
    check("fsconfig", s.fsconfig(fsfd, FSCONFIG_CMD_CREATE, null, null, 0), "overlay create");
    mfd = check(
      "fsmount",
      s.fsmount(fsfd, FSMOUNT_CLOEXEC, o.readonly ? MOUNT_ATTR_RDONLY : 0),
      "overlay",
    );
    const r = typeof target === "string"
      ? s.move_mount(mfd, cstring(""), AT_FDCWD, cstring(target), MOVE_MOUNT_F_EMPTY_PATH)
      : s.move_mount(
        mfd,
        cstring(""),
        target.fd,
        cstring(""),
        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
      );
    check("move_mount", r, `overlay to ${describe(target)}`);
  } finally {
    if (mfd >= 0) s.close(mfd);
    s.close(fsfd);
  }
}

/** True when the kernel offers the new mount API (fsopen); false on ENOSYS. */
export function hasFsopen(): boolean {
  const s = libc().symbols;
  const fd = s.fsopen(cstring("overlay"), FSOPEN_CLOEXEC);
  if (fd >= 0) {
    s.close(fd);
    return true;
  }
  const code = errno();
  if (code === 38 /* ENOSYS */) return false;
  throw new SyscallError("fsopen", code, "overlay");
}
