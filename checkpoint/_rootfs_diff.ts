/**
 * The container's writable-layer changes, CRI-O's way: added and changed files, links and
 * directories of the overlay upper directory into `rootfs-diff.tar` (paths relative to the
 * rootfs), deletions into `deleted.files` (a JSON array of absolute container paths): an
 * overlay whiteout (a 0:0 character device) is its path deleted, an opaque directory
 * (`trusted.overlay.opaque=y`) is the directory deleted and then its upper contents added.
 *
 * Mount points are skipped (runc makes them in the rootfs, and their content is not the
 * container's): the spec's mount destinations and the runtime's own (`/dev`, `/proc`, `/sys`,
 * `/run/secrets`...), as CRI-O skips them.
 *
 * The upper directory is the agent's own; the walk never follows a symlink (lstat), and it
 * runs while the container is frozen, so what it reads is not changing under it.
 *
 * @module
 */
import { lgetxattr } from "../ffi/fsnode.ts";
import { TarWriter } from "./_tar_writer.ts";

/** Paths never archived (CRI-O's list). */
export const ALWAYS_SKIPPED = [
  "/dev",
  "/dev/shm",
  "/proc",
  "/run/.containerenv",
  "/run/secrets",
  "/sys",
];

/** What the diff holds. */
export interface RootfsDiff {
  /** Members archived; 0 means no `rootfs-diff.tar` was written. */
  entries: number;
  /** Container paths deleted (for `deleted.files`), sorted. */
  deleted: string[];
}

/**
 * Writes the changes in `upperDir` to `tarPath` (created 0600; removed again when nothing
 * changed), skipping `mountPoints` (absolute container paths).
 */
export async function writeRootfsDiff(
  upperDir: string,
  tarPath: string,
  mountPoints: readonly string[],
): Promise<RootfsDiff> {
  const skip = new Set([...ALWAYS_SKIPPED, ...mountPoints].map((p) => p.replace(/\/+$/, "")));
  const deleted: string[] = [];
  let entries = 0;
  {
    await using file = await Deno.open(tarPath, { write: true, createNew: true, mode: 0o600 });
    const tar = new TarWriter(file);
    const walk = async (rel: string): Promise<void> => {
      const names: string[] = [];
      for await (const e of Deno.readDir(`${upperDir}${rel}`)) names.push(e.name);
      names.sort();
      for (const name of names) {
        const path = `${rel}/${name}`;
        if (skip.has(path)) continue;
        const host = `${upperDir}${path}`;
        const st = await Deno.lstat(host);
        if (st.isCharDevice && st.rdev === 0) {
          deleted.push(path);
          continue;
        }
        const meta = {
          name: path.slice(1),
          mode: st.mode ?? 0o644,
          uid: st.uid ?? 0,
          gid: st.gid ?? 0,
          mtime: (st.mtime?.getTime() ?? 0) / 1000,
        };
        if (st.isDirectory) {
          const opaque = lgetxattr(host, "trusted.overlay.opaque");
          if (opaque && new TextDecoder().decode(opaque) === "y") deleted.push(path);
          await tar.add({ ...meta, type: "dir" });
          entries++;
          await walk(path);
        } else if (st.isSymlink) {
          await tar.add({ ...meta, type: "symlink", linkname: await Deno.readLink(host) });
          entries++;
        } else if (st.isFile) {
          await tar.addFile(meta, host);
          entries++;
        }
        // Sockets, fifos and device nodes a container made are not carried (CRI-O neither).
      }
    };
    await walk("");
    await tar.finish();
  }
  if (entries === 0) await Deno.remove(tarPath);
  return { entries, deleted: deleted.sort() };
}
