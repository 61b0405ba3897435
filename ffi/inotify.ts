/**
 * inotify(7): file change notifications on a raw fd, for files Deno's `watchFs` cannot
 * watch faithfully. cgroup v2 interface files (`memory.events`, `cgroup.events`) are
 * kernfs files whose changes the kernel announces as `IN_MODIFY` (`cgroup_file_notify`,
 * Documentation/admin-guide/cgroup-v2.rst "modified file events").
 *
 * The fd is non-blocking: wait for it with `waitReadable` from `./eventfd.ts`, then drain
 * it with {@link readInotifyEvents} on the main thread, where errno is meaningful.
 *
 * @module
 */
import { check, cstring, Errno, errno, openLibc, SyscallError } from "./_libc.ts";

/** File was modified. */
export const IN_MODIFY = 0x00000002;
/** Watched file/directory was itself deleted. */
export const IN_DELETE_SELF = 0x00000400;
/** Event queue overflowed (wd is -1). */
export const IN_Q_OVERFLOW = 0x00004000;
/** Watch was removed (explicitly, or because the file went away). */
export const IN_IGNORED = 0x00008000;

const IN_NONBLOCK = 0o4000;
const IN_CLOEXEC = 0o2000000;
/** sizeof(struct inotify_event) without the name: int wd; u32 mask, cookie, len. */
const EVENT_HEADER = 16;
/** Room for many events at once; a name is at most NAME_MAX + 1 bytes. */
const READ_BUFFER = 4096;

const symbols = {
  /** int inotify_init1(int flags); */
  inotify_init1: { parameters: ["i32"], result: "i32" },
  /** int inotify_add_watch(int fd, const char *pathname, uint32_t mask); */
  inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int inotify_rm_watch(int fd, int wd); */
  inotify_rm_watch: { parameters: ["i32", "i32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count); */
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

/** One decoded `struct inotify_event`. */
export interface InotifyEvent {
  /** Watch descriptor the event is for (-1 for IN_Q_OVERFLOW). */
  readonly wd: number;
  /** Event bits (IN_*). */
  readonly mask: number;
  /** Name of the entry inside a watched directory; empty for a watched file. */
  readonly name: string;
}

/** Creates a non-blocking, close-on-exec inotify instance; close it with `closeFd`. */
export function inotifyInit(): number {
  return check("inotify_init1", libc().symbols.inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
}

/** Watches `path` for the events in `mask`; returns the watch descriptor. */
export function inotifyAddWatch(fd: number, path: string, mask: number): number {
  return check(
    "inotify_add_watch",
    libc().symbols.inotify_add_watch(fd, cstring(path), mask),
    path,
  );
}

/**
 * Removes a watch. A watch the kernel already dropped (its file is gone) fails with
 * EINVAL, which is not an error for the caller: it returns false then.
 */
export function inotifyRmWatch(fd: number, wd: number): boolean {
  if (libc().symbols.inotify_rm_watch(fd, wd) === 0) return true;
  const code = errno();
  if (code === Errno.EINVAL) return false;
  throw new SyscallError("inotify_rm_watch", code, `wd ${wd}`);
}

/** Drains every queued event; an empty list when none is queued. */
export function readInotifyEvents(fd: number): InotifyEvent[] {
  const out: InotifyEvent[] = [];
  const buf = new Uint8Array(READ_BUFFER);
  for (;;) {
    const n = Number(libc().symbols.read(fd, buf, BigInt(READ_BUFFER)));
    if (n < 0) {
      const code = errno();
      if (code === Errno.EAGAIN) return out;
      throw new SyscallError("read", code, `inotify fd ${fd}`);
    }
    if (n === 0) return out;
    out.push(...decodeInotifyEvents(buf.subarray(0, n)));
  }
}

/** Decodes a buffer of packed `struct inotify_event` records (exported for unit tests). */
export function decodeInotifyEvents(bytes: Uint8Array): InotifyEvent[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: InotifyEvent[] = [];
  let off = 0;
  while (off + EVENT_HEADER <= bytes.byteLength) {
    const wd = view.getInt32(off, true);
    const mask = view.getUint32(off + 4, true);
    const len = view.getUint32(off + 12, true);
    const raw = bytes.subarray(
      off + EVENT_HEADER,
      Math.min(off + EVENT_HEADER + len, bytes.length),
    );
    const nul = raw.indexOf(0);
    const name = new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul));
    out.push({ wd, mask, name });
    off += EVENT_HEADER + len;
  }
  return out;
}
