/**
 * `mount(2)` and `umount2(2)` for the few mounts the agent makes itself: bind mounts, a
 * change of propagation, and the removal of pinned namespace files.
 *
 * These calls do not change the calling thread's namespaces, so they are safe on Deno's
 * JS thread. They are synchronous (not `nonblocking`) so that errno is readable: every
 * target here is a local directory or an nsfs file, which mount and unmount instantly.
 *
 * @module
 */
import { check, cstring, Errno, errno, openLibc, SyscallError } from "./_libc.ts";
import { Fd } from "./beneath.ts";

const symbols = {
  /** int mount(const char *source, const char *target, const char *filesystemtype,
   *            unsigned long mountflags, const void *data); */
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "pointer"], result: "i32" },
  /** int umount2(const char *target, int flags); */
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  /** long syscall(long number, ...); used for open_tree(int dfd, const char *path,
   *  unsigned int flags), which glibc before 2.36 does not wrap. */
  open_tree: { name: "syscall", parameters: ["i64", "i32", "buffer", "u32"], result: "i64" },
  /** long syscall(long number, ...); used for move_mount(int from_dfd, const char *from,
   *  int to_dfd, const char *to, unsigned int flags). */
  move_mount: {
    name: "syscall",
    parameters: ["i64", "i32", "buffer", "i32", "buffer", "u32"],
    result: "i64",
  },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const MS_BIND = 4096n;
const MS_REC = 16384n;
const MS_PRIVATE = 1n << 18n;
const MS_SLAVE = 1n << 19n;
const MS_SHARED = 1n << 20n;
const MNT_DETACH = 2;
// The same numbers on x86_64 and aarch64 (syscalls from 424 on are shared).
const SYS_OPEN_TREE = 428n;
const SYS_MOVE_MOUNT = 429n;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const MOVE_MOUNT_F_EMPTY_PATH = 4;
const MOVE_MOUNT_T_EMPTY_PATH = 0x40;
const EMPTY = new Uint8Array(1);
const UMOUNT_NOFOLLOW = 8;

/** Bind-mounts `source` on `target` (`mount --bind`, or `--rbind` when `recursive`). */
export function bindMount(
  source: string,
  target: string,
  opts: { recursive?: boolean } = {},
): void {
  const flags = MS_BIND | (opts.recursive ? MS_REC : 0n);
  check(
    "mount",
    libc().symbols.mount(cstring(source), cstring(target), cstring("none"), flags, null),
    `${source} on ${target}, MS_BIND`,
  );
}

/** Mount propagation types (`mount --make-shared` and friends). */
export type Propagation = "shared" | "slave" | "private";

/**
 * Sets the propagation of the mount at `target`. Fails with EINVAL (as a
 * {@link SyscallError}) when `target` is not a mount point.
 */
export function setPropagation(
  target: string,
  propagation: Propagation,
  opts: { recursive?: boolean } = {},
): void {
  const type = propagation === "shared"
    ? MS_SHARED
    : propagation === "slave"
    ? MS_SLAVE
    : MS_PRIVATE;
  const flags = type | (opts.recursive ? MS_REC : 0n);
  const r = libc().symbols.mount(cstring("none"), cstring(target), null, flags, null);
  check("mount", r, `${target}, make-${propagation}`);
}

/**
 * Unmounts `target` without following a symlink in its last component. With `detach`, the
 * mount leaves the tree at once and is freed when no longer busy (`umount -l`).
 *
 * Returns `false` instead of throwing when there is nothing to unmount: `target` is
 * missing (ENOENT) or is not a mount point (EINVAL), which is what makes removal idempotent.
 */
export function unmount(target: string, opts: { detach?: boolean } = {}): boolean {
  const flags = UMOUNT_NOFOLLOW | (opts.detach ? MNT_DETACH : 0);
  const r = libc().symbols.umount2(cstring(target), flags);
  if (r === 0) return true;
  const code = errno();
  if (code === Errno.ENOENT || code === Errno.EINVAL) return false;
  throw new SyscallError("umount2", code, target);
}

/**
 * A detached copy of the mount at the directory open as `source`, rooted at that directory
 * (`open_tree(OPEN_TREE_CLONE)`, a bind mount not yet attached anywhere): the very inode
 * the descriptor names, no path resolved again. The copy keeps the source mount's flags (a
 * read-only mount stays read-only); mounts below `source` are not copied. Attach it with
 * {@link attachMount}; closing it unattached frees it.
 */
export function cloneMount(source: Fd): Fd {
  const flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
  const r = libc().symbols.open_tree(SYS_OPEN_TREE, source.fd, EMPTY, flags);
  return new Fd(check("open_tree", r, `fd ${source.fd}`));
}

/** Attaches the detached mount `tree` on the directory open as `target` (`move_mount`). */
export function attachMount(tree: Fd, target: Fd): void {
  const r = libc().symbols.move_mount(
    SYS_MOVE_MOUNT,
    tree.fd,
    EMPTY,
    target.fd,
    EMPTY,
    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
  );
  check("move_mount", r, `fd ${tree.fd} to fd ${target.fd}`);
}
