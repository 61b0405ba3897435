/**
 * `mount(2)` of a tmpfs (a pod's /dev/shm). Synchronous: mounting a tmpfs on a local
 * directory is instant, and a synchronous call keeps errno readable.
 *
 * @module
 */
import { check, cstring, openLibc } from "./_libc.ts";

const symbols = {
  /** int mount(const char *source, const char *target, const char *filesystemtype,
   *            unsigned long mountflags, const void *data); */
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

const MS_NOSUID = 2n;
const MS_NODEV = 4n;
const MS_NOEXEC = 8n;

/** Mounts a tmpfs at `target` (nosuid, nodev, noexec) with `options`, e.g. `size=64m,mode=1777`. */
export function mountTmpfs(source: string, target: string, options: string): void {
  check(
    "mount",
    libc().symbols.mount(
      cstring(source),
      cstring(target),
      cstring("tmpfs"),
      MS_NOSUID | MS_NODEV | MS_NOEXEC,
      cstring(options),
    ),
    `tmpfs on ${target}`,
  );
}
