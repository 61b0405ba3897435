/**
 * One datagram to a unix socket, for systemd's notification protocol (`sd_notify(3)`).
 *
 * Deno's own datagram sockets (`Deno.listenDatagram`) sit behind `--unstable-net`, must bind
 * a path of their own before they can send, and cannot address the abstract namespace
 * systemd may hand out (`NOTIFY_SOCKET=@…`). Three libc calls do exactly what
 * `sd_notify` does: an unbound `SOCK_DGRAM` socket, one `sendto`, close.
 *
 * The send never blocks the JS thread: with `MSG_DONTWAIT` a full receive queue (a wedged
 * systemd) fails with EAGAIN instead of freezing the agent.
 *
 * @module
 */
import { check, Errno, errno, openLibc, SyscallError } from "./_libc.ts";
import { closeFd } from "./fd.ts";

const symbols = {
  /** int socket(int domain, int type, int protocol); */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /**
   * ssize_t sendto(int sockfd, const void *buf, size_t len, int flags,
   *                const struct sockaddr *dest_addr, socklen_t addrlen);
   */
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** `sizeof(((struct sockaddr_un *)0)->sun_path)` on Linux. */
const SUN_PATH_MAX = 108;
/** `offsetof(struct sockaddr_un, sun_path)`: after the 2-byte `sun_family`. */
const SUN_PATH_OFFSET = 2;

/**
 * `struct sockaddr_un` for a notification address, with its length: an absolute path, or
 * `@name` for the abstract namespace (a leading NUL, no terminator, as systemd encodes it).
 * Throws RangeError for anything else or a name too long for `sun_path`.
 */
export function unixSockaddr(address: string): { addr: Uint8Array<ArrayBuffer>; len: number } {
  const abstract = address.startsWith("@");
  if (!abstract && !address.startsWith("/")) {
    throw new RangeError(
      `unix socket address ${JSON.stringify(address)} must be an absolute path or @abstract`,
    );
  }
  const name = new TextEncoder().encode(abstract ? address.slice(1) : address);
  // A path keeps room for its NUL terminator; an abstract name uses one byte for its NUL prefix.
  if (name.byteLength + 1 > SUN_PATH_MAX) {
    throw new RangeError(
      `unix socket address is ${name.byteLength} bytes, the limit is ${
        SUN_PATH_MAX - 1
      }: ${address}`,
    );
  }
  const addr = new Uint8Array(SUN_PATH_OFFSET + SUN_PATH_MAX);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  // systemd's sd_notify: abstract names are exactly as long as their bytes; paths include NUL.
  return { addr, len: SUN_PATH_OFFSET + name.byteLength + 1 };
}

/**
 * Sends `payload` as one datagram to the unix socket at `address` (path or `@abstract`).
 * Throws {@link SyscallError} naming the address when the kernel refuses (ENOENT: nobody
 * listens there; ECONNREFUSED; EAGAIN: the receiver's queue is full).
 */
export function sendDatagram(address: string, payload: Uint8Array<ArrayBuffer>): void {
  const { addr, len } = unixSockaddr(address);
  const fd = check(
    "socket(AF_UNIX, SOCK_DGRAM)",
    libc().symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
  );
  try {
    const sent = Number(
      libc().symbols.sendto(
        fd,
        payload,
        BigInt(payload.byteLength),
        MSG_DONTWAIT | MSG_NOSIGNAL,
        addr,
        len,
      ),
    );
    if (sent < 0) throw new SyscallError("sendto", errno(), address);
    // Datagrams are all or nothing; a short count would be a kernel bug worth naming.
    if (sent !== payload.byteLength) {
      throw new SyscallError("sendto", Errno.EIO, `${address}: sent ${sent} of ${payload.length}`);
    }
  } finally {
    closeFd(fd);
  }
}
