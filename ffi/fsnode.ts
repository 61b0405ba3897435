/**
 * Reading an extended attribute of a path itself (`lgetxattr`), for tests that check what
 * an unpack wrote. Writing goes through `beneath.ts`, on descriptors.
 *
 * @module
 */
import { cstring, errno, openLibc, SyscallError } from "./_libc.ts";

const symbols = {
  /** ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size); */
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const ENODATA = 61;
const ERANGE = 34;

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
    if (code === ERANGE && size < 1 << 16) {
      size *= 4;
      continue;
    }
    throw new SyscallError("lgetxattr", code, `${path}, ${name}`);
  }
}
