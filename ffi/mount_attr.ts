/**
 * Kernel probes of mount attributes, for what a runtime handler may be asked to do: make a
 * mount recursively read-only (`mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)`, Linux
 * 5.12), and idmap a mount (`MOUNT_ATTR_IDMAP`, 5.12; per filesystem: tmpfs only from 6.3).
 *
 * Every probe works on a detached mount (`fsmount` of a fresh tmpfs, or an `open_tree`
 * clone of a directory) that is never attached to the tree: closing its descriptor frees
 * it, so a probe leaves nothing mounted whatever happens. This is a real probe, as moby's
 * `kernelSupportsRecursivelyReadOnly`, not a comparison of version numbers.
 *
 * @module
 */
import { cstring, errno, openLibc, SyscallError } from "./_libc.ts";

const symbols = {
  /** int fsopen(const char *fsname, unsigned int flags); */
  fsopen: { parameters: ["buffer", "u32"], result: "i32" },
  /** int fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux); */
  fsconfig: { parameters: ["i32", "u32", "buffer", "buffer", "i32"], result: "i32" },
  /** int fsmount(int fsfd, unsigned int flags, unsigned int attr_flags); */
  fsmount: { parameters: ["i32", "u32", "u32"], result: "i32" },
  /** int open_tree(int dirfd, const char *path, unsigned int flags); */
  open_tree: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int mount_setattr(int dirfd, const char *path, unsigned int flags,
   *                    struct mount_attr *attr, size_t size); */
  mount_setattr: { parameters: ["i32", "buffer", "u32", "buffer", "usize"], result: "i32" },
  /** int move_mount(int from_dirfd, const char *from_path, int to_dirfd,
   *                 const char *to_path, unsigned int flags); */
  move_mount: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  /** int open(const char *path, int flags); */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const O_RDONLY = 0;
const O_CLOEXEC = 0x80000;
const OPEN_TREE_CLONE = 1;
const FSOPEN_CLOEXEC = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 1;
const MOUNT_ATTR_RDONLY = 0x1n;
const MOUNT_ATTR_IDMAP = 0x100000n;
const MOVE_MOUNT_F_EMPTY_PATH = 4;

/** The outcome of one probe: supported, or the kernel's refusal. */
export type ProbeOutcome = { ok: true } | { ok: false; error: string };

/** A detached, fresh tmpfs (its descriptor); the caller closes it. */
function detachedTmpfs(): number {
  const s = libc().symbols;
  const fsfd = s.fsopen(cstring("tmpfs"), FSOPEN_CLOEXEC);
  if (fsfd < 0) throw new SyscallError("fsopen", errno(), "tmpfs");
  try {
    if (s.fsconfig(fsfd, FSCONFIG_CMD_CREATE, null, null, 0) < 0) {
      throw new SyscallError("fsconfig", errno(), "tmpfs create");
    }
    const mfd = s.fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
    if (mfd < 0) throw new SyscallError("fsmount", errno(), "tmpfs");
    return mfd;
  } finally {
    s.close(fsfd);
  }
}

/** A detached clone of the mount holding directory `path`; the caller closes it. */
function detachedClone(path: string): number {
  const fd = libc().symbols.open_tree(AT_FDCWD, cstring(path), OPEN_TREE_CLONE | O_CLOEXEC);
  if (fd < 0) throw new SyscallError("open_tree", errno(), path);
  return fd;
}

function setattr(fd: number, flags: number, set: bigint, usernsFd = 0): void {
  const attr = new BigUint64Array([set, 0n, 0n, BigInt(usernsFd)]);
  const r = libc().symbols.mount_setattr(
    fd,
    cstring(""),
    AT_EMPTY_PATH | flags,
    new Uint8Array(attr.buffer),
    BigInt(attr.byteLength),
  );
  if (r < 0) throw new SyscallError("mount_setattr", errno());
}

function outcome(fn: () => void): ProbeOutcome {
  try {
    fn();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Can the kernel make a mount tree read-only recursively (what `rro` asks of a runtime)? */
export function probeRecursiveReadOnly(): ProbeOutcome {
  return outcome(() => {
    const fd = detachedTmpfs();
    try {
      setattr(fd, AT_RECURSIVE, MOUNT_ATTR_RDONLY);
    } finally {
      libc().symbols.close(fd);
    }
  });
}

/**
 * Can the kernel idmap a mount of `source` (a fresh tmpfs, or the filesystem holding a
 * directory) with the user namespace open at `usernsFd`?
 */
export function probeIdmap(source: "tmpfs" | { dir: string }, usernsFd: number): ProbeOutcome {
  return outcome(() => {
    const fd = source === "tmpfs" ? detachedTmpfs() : detachedClone(source.dir);
    try {
      setattr(fd, 0, MOUNT_ATTR_IDMAP, usernsFd);
    } finally {
      libc().symbols.close(fd);
    }
  });
}

/** Opens a namespace file (`/proc/<pid>/ns/user`) read-only; close it with {@link closeNs}. */
export function openNs(path: string): number {
  const fd = libc().symbols.open(cstring(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new SyscallError("open", errno(), path);
  return fd;
}

/** Closes a descriptor from {@link openNs}. */
export function closeNs(fd: number): void {
  libc().symbols.close(fd);
}

/**
 * Bind-mounts directory `source` on `target`, idmapped with the user namespace open at
 * `usernsFd` (`open_tree(OPEN_TREE_CLONE)` → `mount_setattr(MOUNT_ATTR_IDMAP)` →
 * `move_mount`): a file owned by host id H shows as the id that H is inside that namespace.
 * A pod's image layers are stacked this way, so one shared snapshot serves pods with any
 * mapping, and nothing is chowned.
 */
export function idmapBind(source: string, target: string, usernsFd: number): void {
  const s = libc().symbols;
  const fd = detachedClone(source);
  try {
    setattr(fd, 0, MOUNT_ATTR_IDMAP, usernsFd);
    if (s.move_mount(fd, cstring(""), AT_FDCWD, cstring(target), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      throw new SyscallError("move_mount", errno(), `${source} to ${target}`);
    }
  } finally {
    s.close(fd);
  }
}
