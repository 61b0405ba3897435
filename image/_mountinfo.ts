/**
 * Which paths are mount points, from `/proc/self/mountinfo` (kernel `proc(5)`): field 5
 * is the mount point, with space, tab, newline and backslash escaped as octal (`\040`).
 *
 * @module
 */
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";

/** Undoes the kernel's octal escapes in a mountinfo path. */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points listed in a mountinfo text, with their file-system type. */
export function parseMountinfo(text: string): { mountPoint: string; fsType: string }[] {
  const out: { mountPoint: string; fsType: string }[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-", 6);
    if (fields.length < 7 || sep === -1) continue;
    out.push({ mountPoint: unescapeMountPath(fields[4]!), fsType: fields[sep + 1] ?? "" });
  }
  return out;
}

/** The number of mounts stacked on `path` in this mount namespace. */
export async function mountsAt(path: string): Promise<number> {
  const text = await kernfs.readTextFile("/proc/self/mountinfo");
  return parseMountinfo(text).filter((m) => m.mountPoint === path).length;
}

/** Mount points strictly below directory `dir`, in mount order (parents before children). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await kernfs.readTextFile("/proc/self/mountinfo");
  const prefix = `${dir.replace(/\/+$/, "")}/`;
  return [...new Set(parseMountinfo(text).map((m) => m.mountPoint))]
    .filter((p) => p.startsWith(prefix));
}
