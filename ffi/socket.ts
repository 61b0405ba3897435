/**
 * Unix sockets that pass file descriptors (SCM_RIGHTS), which `Deno.listen` cannot do.
 *
 * Used for runc's `--console-socket`: runc's init creates the container's pty, connects to
 * the socket and sends the master fd with `sendmsg`, before `runc create`/`runc exec`
 * returns. The listener is therefore read without blocking once runc has exited: the
 * connection and its message already sit in the kernel's queues.
 *
 * @module
 */
import { check, cstring, Errno, errno, openLibc, SyscallError } from "./_libc.ts";
import { closeFd } from "./fd.ts";

const symbols = {
  /** int socket(int domain, int type, int protocol); */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int listen(int sockfd, int backlog); */
  listen: { parameters: ["i32", "i32"], result: "i32" },
  /** int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags); */
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  /** ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags); */
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  /** int unlink(const char *pathname); */
  unlink: { parameters: ["buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);
// Opened at import when FFI is granted (as ffi/kernfs.ts does): a lazy open would be charged
// by Deno's resource sanitizer to whichever test first calls in.
if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
  libc();
  errno(); // and the errno helpers every error message uses
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SUN_PATH_MAX = 108;

/** `struct sockaddr_un` for `path`. */
function sockaddrUn(path: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(path);
  if (bytes.byteLength >= SUN_PATH_MAX) {
    throw new RangeError(
      `unix socket path is ${bytes.byteLength} bytes, the limit is ${SUN_PATH_MAX - 1}: ${path}`,
    );
  }
  const addr = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return addr;
}

/** A file descriptor received over a unix socket, with the bytes sent alongside it. */
export interface ReceivedFd {
  /** The new fd, owned by the caller (close-on-exec). */
  readonly fd: number;
  /** The message body (runc sends the pty's name, e.g. `/dev/pts/0`). */
  readonly data: string;
}

/**
 * A listening unix stream socket at a path, from which fds are received. Non-blocking:
 * {@link FdPassingListener.tryReceive} returns `undefined` when nothing has arrived.
 */
export class FdPassingListener {
  readonly #fd: number;
  /** The socket's path. */
  readonly path: string;
  #closed = false;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.path = path;
  }

  /** Binds and listens at `path` (which must not exist). */
  static listen(path: string): FdPassingListener {
    const addr = sockaddrUn(path);
    const fd = check(
      "socket(AF_UNIX)",
      libc().symbols.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0),
    );
    try {
      check("bind", libc().symbols.bind(fd, addr, addr.byteLength), path);
      check("listen", libc().symbols.listen(fd, 4), path);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    return new FdPassingListener(fd, path);
  }

  /**
   * Accepts one pending connection and reads one message carrying an fd. `undefined` when
   * no connection is pending; throws when a connection sent no fd.
   */
  tryReceive(): ReceivedFd | undefined {
    const conn = libc().symbols.accept4(this.#fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      const code = errno();
      if (code === Errno.EAGAIN) return undefined;
      throw new SyscallError("accept4", code, this.path);
    }
    try {
      return receiveFd(conn, this.path);
    } finally {
      closeFd(conn);
    }
  }

  /** Closes the socket and removes its path. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.#fd);
    libc().symbols.unlink(cstring(this.path));
  }
}

/** Reads one message from the connected socket `conn` and returns the fd it carried. */
function receiveFd(conn: number, what: string): ReceivedFd {
  const data = new Uint8Array(4096);
  const iov = new Uint8Array(16);
  const iovView = new DataView(iov.buffer);
  iovView.setBigUint64(0, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(data))), true);
  iovView.setBigUint64(8, BigInt(data.byteLength), true);
  // CMSG_SPACE(sizeof(int)) = 24 on LP64; room for a few fds in case the peer sends more.
  const control = new Uint8Array(64);
  const msg = new Uint8Array(56);
  const msgView = new DataView(msg.buffer);
  msgView.setBigUint64(16, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(iov))), true);
  msgView.setBigUint64(24, 1n, true);
  msgView.setBigUint64(32, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(control))), true);
  msgView.setBigUint64(40, BigInt(control.byteLength), true);

  let n: number;
  for (;;) {
    n = Number(libc().symbols.recvmsg(conn, msg, MSG_CMSG_CLOEXEC));
    if (n >= 0) break;
    const code = errno();
    if (code === Errno.EINTR) continue;
    throw new SyscallError("recvmsg", code, what);
  }
  const controlLen = Number(msgView.getBigUint64(40, true));
  const cv = new DataView(control.buffer);
  const fds: number[] = [];
  for (let off = 0; off + 16 <= controlLen;) {
    const len = Number(cv.getBigUint64(off, true));
    const level = cv.getInt32(off + 8, true);
    const type = cv.getInt32(off + 12, true);
    if (len < 16) break;
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(cv.getInt32(p, true));
    }
    off += (len + 7) & ~7;
  }
  const [fd, ...extra] = fds;
  for (const e of extra) closeFd(e);
  if (fd === undefined) {
    throw new SyscallError("recvmsg", Errno.EINVAL, `${what}: message carried no fd`);
  }
  return { fd, data: new TextDecoder().decode(data.subarray(0, n)).replace(/\0+$/, "") };
}
