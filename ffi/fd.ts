/**
 * Streams over raw file descriptors that Deno cannot adopt (a pty master received over
 * SCM_RIGHTS, say).
 *
 * The fd is switched to O_NONBLOCK and read with plain synchronous `read(2)` on the JS
 * thread, so errno is reliable (EAGAIN, EIO). Only the wait for readiness, `poll(2)`, runs
 * off-thread (`nonblocking: true`); it also watches a private wake pipe, so {@link
 * FdStream.close} can interrupt it without closing an fd another thread is still polling
 * (which would let a reused fd number be read by mistake).
 *
 * @module
 */
import { check, Errno, errno, openLibc, SyscallError } from "./_libc.ts";

const symbols = {
  /** ssize_t read(int fd, void *buf, size_t count); */
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** int fcntl(int fd, int cmd, int arg); (variadic; one int argument here) */
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int pipe2(int pipefd[2], int flags); */
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout); run off-thread, may block. */
  pollWait: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);
// Opened at import when FFI is granted (as ffi/kernfs.ts does): a lazy open would be charged
// by Deno's resource sanitizer to whichever test first calls in.
if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
  libc();
  errno(); // and the errno helpers every error message uses
}

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const POLLIN = 0x1;
const POLLOUT = 0x4;

/** Closes `fd`, ignoring EBADF (already closed). */
export function closeFd(fd: number): void {
  if (libc().symbols.close(fd) < 0 && errno() !== Errno.EBADF) {
    throw new SyscallError("close", errno(), String(fd));
  }
}

/** Sets O_NONBLOCK on `fd`. */
export function setNonBlocking(fd: number): void {
  const flags = check("fcntl(F_GETFL)", libc().symbols.fcntl(fd, F_GETFL, 0), String(fd));
  check("fcntl(F_SETFL)", libc().symbols.fcntl(fd, F_SETFL, flags | O_NONBLOCK), String(fd));
}

function pipe(): [number, number] {
  const fds = new Int32Array(2);
  check("pipe2", libc().symbols.pipe2(fds, O_CLOEXEC | O_NONBLOCK));
  return [fds[0]!, fds[1]!];
}

/** Read result: bytes, end of file, or "try again after poll". */
function readOnce(fd: number, buf: Uint8Array<ArrayBuffer>): number | "eof" | "again" {
  for (;;) {
    const n = Number(libc().symbols.read(fd, buf, BigInt(buf.byteLength)));
    if (n > 0) return n;
    if (n === 0) return "eof";
    const code = errno();
    if (code === Errno.EINTR) continue;
    if (code === Errno.EAGAIN) return "again";
    // A pty master reads EIO once every slave fd is closed: that is its end of file.
    if (code === Errno.EIO) return "eof";
    throw new SyscallError("read", code, String(fd));
  }
}

/**
 * A readable and writable stream over a raw fd the stream owns. Used for pty masters.
 */
export class FdStream {
  /** Everything read from the fd until end of file (or EIO, a pty's hang-up). */
  readonly readable: ReadableStream<Uint8Array>;
  readonly #fd: number;
  readonly #wakeRead: number;
  readonly #wakeWrite: number;
  #closed = false;
  #polling = 0;
  #released = false;

  /** Takes ownership of `fd` and switches it to non-blocking mode. */
  constructor(fd: number, opts: { chunkSize?: number } = {}) {
    this.#fd = fd;
    setNonBlocking(fd);
    [this.#wakeRead, this.#wakeWrite] = pipe();
    const buf = new Uint8Array(opts.chunkSize ?? 16384);
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        for (;;) {
          if (this.#closed) {
            controller.close();
            return;
          }
          const r = readOnce(this.#fd, buf);
          if (r === "eof") {
            controller.close();
            return;
          }
          if (r === "again") {
            await this.#wait(POLLIN);
            continue;
          }
          controller.enqueue(buf.slice(0, r));
          return;
        }
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  /** The fd number (for ioctl calls such as a terminal resize). */
  get fd(): number {
    return this.#fd;
  }

  /** Writes all of `data`, waiting for the fd to drain when it is full. */
  async write(data: Uint8Array): Promise<void> {
    let off = 0;
    const copy = new Uint8Array(data);
    while (off < copy.byteLength) {
      if (this.#closed) throw new SyscallError("write", Errno.EBADF, String(this.#fd));
      const chunk = copy.subarray(off);
      const n = Number(libc().symbols.write(this.#fd, chunk, BigInt(chunk.byteLength)));
      if (n >= 0) {
        off += n;
        continue;
      }
      const code = errno();
      if (code === Errno.EINTR) continue;
      if (code !== Errno.EAGAIN) throw new SyscallError("write", code, String(this.#fd));
      await this.#wait(POLLOUT);
    }
  }

  /** Stops reading and writing and closes the fd (once no poll is in flight). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#polling > 0) {
      libc().symbols.write(this.#wakeWrite, new Uint8Array(1), 1n);
    } else {
      this.#release();
    }
  }

  async #wait(events: number): Promise<void> {
    const fds = new Uint8Array(16);
    const view = new DataView(fds.buffer);
    view.setInt32(0, this.#fd, true);
    view.setInt16(4, events, true);
    view.setInt32(8, this.#wakeRead, true);
    view.setInt16(12, POLLIN, true);
    this.#polling++;
    try {
      // -1 means EINTR (errno is lost off-thread): the caller simply retries.
      await libc().symbols.pollWait(fds, 2n, -1);
    } finally {
      this.#polling--;
      if (this.#closed && this.#polling === 0) this.#release();
    }
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    closeFd(this.#fd);
    closeFd(this.#wakeRead);
    closeFd(this.#wakeWrite);
  }
}
