/**
 * `setns(2)` into a network namespace, for the calling thread only.
 *
 * A network namespace is a per-thread attribute and a socket stays in the namespace it was
 * created in, so a thread that joins a pod's namespace and then opens sockets gets sockets
 * inside the pod. Only ever call {@link enterNetworkNamespace} on a thread dedicated to
 * that: a Deno `Worker` (which runs its JS and its I/O on its own OS thread). On the
 * agent's main thread it would move every later socket of the agent into the pod.
 *
 * @module
 */
import { cstring, errno, openLibc, SyscallError } from "./_libc.ts";
import { closeFd } from "./fd.ts";
// Deno serves /proc only to --allow-all; the link is read through libc.
import { readLinkSync } from "./kernfs.ts";

const symbols = {
  /** int open(const char *pathname, int flags); */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  /** int setns(int fd, int nstype); */
  setns: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
/** `CLONE_NEWNET`: setns refuses a file that is not a network namespace (EINVAL). */
const CLONE_NEWNET = 0x40000000;

/**
 * Moves the calling thread into the network namespace pinned at `path` (an nsfs file such
 * as `/run/netns/x` or `<state>/ns/<pod>/net`). Fails with ENOENT when the file is gone and
 * EINVAL when it is not a network namespace.
 */
export function enterNetworkNamespace(path: string): void {
  const fd = libc().symbols.open(cstring(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new SyscallError("open", errno(), path);
  try {
    if (libc().symbols.setns(fd, CLONE_NEWNET) < 0) {
      throw new SyscallError("setns(CLONE_NEWNET)", errno(), path);
    }
  } finally {
    closeFd(fd);
  }
}

/** The calling thread's network namespace, as the kernel names it: `net:[4026531840]`. */
export function currentNetworkNamespace(): string {
  return readLinkSync("/proc/thread-self/ns/net");
}
