/**
 * File-system calls Deno has no API for, needed to unpack image layers faithfully: device
 * nodes and FIFOs (`mknod`) and extended attributes without following symlinks
 * (`lsetxattr`, `lgetxattr`).
 *
 * All calls are synchronous so errno is readable; each touches one inode.
 *
 * @module
 */
import { check, cstring, Errno, errno, openLibc, SyscallError } from "./_libc.ts";

const symbols = {
  /** int symlink(const char *target, const char *linkpath); */
  symlink: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int mknod(const char *pathname, mode_t mode, dev_t dev); */
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  /** int lsetxattr(const char *path, const char *name, const void *value, size_t size,
   *                int flags); */
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size); */
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

/** File type bits of `st_mode` (`<sys/stat.h>`). */
export const S_IFIFO = 0o010000;
/** Character device. */
export const S_IFCHR = 0o020000;
/** Block device. */
export const S_IFBLK = 0o060000;

const ENODATA = 61;
const ENOTSUP = 95;

/** glibc's `makedev`: the 64-bit dev_t encoding of a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) |
    ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/**
 * Creates a device node or FIFO. `type` is {@link S_IFCHR}, {@link S_IFBLK} or
 * {@link S_IFIFO}; `perm` the permission bits (the umask applies; chmod afterwards for
 * exact bits).
 */
export function mknod(path: string, type: number, perm: number, major = 0, minor = 0): void {
  const r = libc().symbols.mknod(cstring(path), type | (perm & 0o7777), makedev(major, minor));
  check("mknod", r, path);
}

/** Error from {@link lsetxattr} when the file system does not support the attribute. */
export function isNotSupported(err: unknown): boolean {
  return err instanceof SyscallError && (err.errno === ENOTSUP || err.errno === Errno.EPERM);
}

/** Sets an extended attribute on `path` itself (a symlink is not followed). */
export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  const buf = new Uint8Array(value.byteLength);
  buf.set(value);
  const r = libc().symbols.lsetxattr(cstring(path), cstring(name), buf, BigInt(buf.length), 0);
  check("lsetxattr", r, `${path}, ${name}`);
}

/** Reads an extended attribute of `path` itself; `undefined` when it is not set. */
export function lgetxattr(path: string, name: string): Uint8Array | undefined {
  const s = libc().symbols;
  let size = 256;
  for (;;) {
    const buf = new Uint8Array(size);
    const n = Number(s.lgetxattr(cstring(path), cstring(name), buf, BigInt(size)));
    if (n >= 0) return buf.slice(0, n);
    const code = errno();
    if (code === ENODATA) return undefined;
    if (code === 34 /* ERANGE */ && size < 1 << 16) {
      size *= 4;
      continue;
    }
    throw new SyscallError("lgetxattr", code, `${path}, ${name}`);
  }
}

/**
 * Creates the symlink `path` → `target`. Deno.symlink() needs unscoped read and write
 * permissions, which the agent's permission set does not grant; libc does not ask.
 */
export function symlink(target: string, path: string): void {
  check("symlink", libc().symbols.symlink(cstring(target), cstring(path)), path);
}
