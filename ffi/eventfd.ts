/**
 * eventfd(2) and the fd plumbing around it: counters the kernel (or another part of the
 * process) signals, and a wait for readability that runs off the main thread.
 *
 * Deno cannot poll an arbitrary fd, so {@link waitReadable} runs `poll(2)` as a
 * `nonblocking` FFI call on a worker thread. That thread's errno is lost, so the wait
 * only reports *which* fds are ready; the reads themselves happen synchronously here on
 * the main thread on `O_NONBLOCK` fds, where errno is meaningful. To stop a wait early,
 * pass an eventfd among the fds and {@link signalEventfd} it: closing an fd does not wake
 * a thread blocked in poll on it.
 *
 * cgroup v1 delivers memory OOM notifications this way: an eventfd registered through
 * `cgroup.event_control` (kernel Documentation/admin-guide/cgroup-v1/memory.rst §10).
 *
 * @module
 */
import { check, cstring, Errno, errno, openLibc, SyscallError } from "./_libc.ts";

/** `EFD_CLOEXEC` (= `O_CLOEXEC`). */
export const EFD_CLOEXEC = 0o2000000;
/** `EFD_NONBLOCK` (= `O_NONBLOCK`). */
export const EFD_NONBLOCK = 0o4000;
/** `O_RDONLY`. */
export const O_RDONLY = 0;
/** `O_WRONLY`. */
export const O_WRONLY = 1;
/** `O_CLOEXEC`. */
export const O_CLOEXEC = 0o2000000;

const POLLIN = 0x001;
const POLLERR = 0x008;
const POLLHUP = 0x010;
const POLLNVAL = 0x020;
/** sizeof(struct pollfd): int fd; short events; short revents. */
const POLLFD_SIZE = 8;

const symbols = {
  /** int eventfd(unsigned int initval, int flags); */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count); */
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int open(const char *pathname, int flags, mode_t mode); */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout); — on the calling thread */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /** The same poll, on a worker thread (errno is lost there). */
  poll_threaded: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

/** Creates an eventfd; by default close-on-exec and non-blocking, as the readers here expect. */
export function createEventfd(initval = 0, flags = EFD_CLOEXEC | EFD_NONBLOCK): number {
  return check("eventfd", libc().symbols.eventfd(initval, flags));
}

/**
 * Reads and resets an eventfd's counter. Returns 0n when nothing was signalled (the fd is
 * non-blocking and the counter is zero).
 */
export function readEventfd(fd: number): bigint {
  const buf = new Uint8Array(8);
  const n = Number(libc().symbols.read(fd, buf, 8n));
  if (n < 0) {
    const code = errno();
    if (code === Errno.EAGAIN) return 0n;
    throw new SyscallError("read", code, `eventfd ${fd}`);
  }
  if (n !== 8) throw new SyscallError("read", Errno.EIO, `eventfd ${fd}: short read of ${n}`);
  return new DataView(buf.buffer).getBigUint64(0, true);
}

/** Adds `value` to an eventfd's counter, waking whoever waits on it. */
export function signalEventfd(fd: number, value = 1n): void {
  const buf = new Uint8Array(8);
  new DataView(buf.buffer).setBigUint64(0, value, true);
  check("write", libc().symbols.write(fd, buf, 8n), `eventfd ${fd}`);
}

/**
 * Opens `path` and returns the raw fd (Deno's own files hide theirs), for kernel interfaces
 * that take an fd number in a string, like `cgroup.event_control`.
 */
export function openFd(path: string, flags = O_RDONLY | O_CLOEXEC): number {
  return check("open", libc().symbols.open(cstring(path), flags, 0), path);
}

/**
 * Reads up to `max` bytes from a non-blocking fd. Returns null when no data is ready
 * (EAGAIN), an empty array at end of file.
 */
export function readFd(fd: number, max: number): Uint8Array<ArrayBuffer> | null {
  const buf = new Uint8Array(max);
  const n = Number(libc().symbols.read(fd, buf, BigInt(max)));
  if (n < 0) {
    const code = errno();
    if (code === Errno.EAGAIN) return null;
    throw new SyscallError("read", code, `fd ${fd}`);
  }
  return buf.subarray(0, n);
}

/** Closes a raw fd obtained from this folder; closing twice is a bug and throws EBADF. */
export function closeFd(fd: number): void {
  check("close", libc().symbols.close(fd), `fd ${fd}`);
}

/**
 * Waits until at least one of `fds` is readable (or hung up, or in error) and returns
 * those fds. `timeoutMs` < 0 waits forever. Runs `poll(2)` on a worker thread; a signal
 * interrupting it yields an empty list, so callers loop.
 */
export async function waitReadable(fds: readonly number[], timeoutMs = -1): Promise<number[]> {
  const buf = new Uint8Array(POLLFD_SIZE * fds.length);
  const view = new DataView(buf.buffer);
  fds.forEach((fd, i) => {
    view.setInt32(i * POLLFD_SIZE, fd, true);
    view.setInt16(i * POLLFD_SIZE + 4, POLLIN, true);
  });
  const n = await libc().symbols.poll_threaded(buf, BigInt(fds.length), timeoutMs);
  if (n < 0) {
    // The worker thread's errno is gone: ask again here, without waiting, to learn it.
    const again = libc().symbols.poll(buf, BigInt(fds.length), 0);
    if (again < 0) {
      const code = errno();
      if (code === Errno.EINTR) return [];
      throw new SyscallError("poll", code);
    }
  }
  const ready: number[] = [];
  fds.forEach((fd, i) => {
    const revents = view.getInt16(i * POLLFD_SIZE + 6, true);
    if (revents & POLLNVAL) throw new SyscallError("poll", Errno.EBADF, `fd ${fd}`);
    if (revents & (POLLIN | POLLHUP | POLLERR)) ready.push(fd);
  });
  return ready;
}
