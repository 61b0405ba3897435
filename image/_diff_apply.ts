/**
 * A checkpoint's rootfs diff, applied to a restored container's new writable layer. The
 * archive is attacker input: the diff goes through the same bounded tar reader and
 * fd-relative unpack as an image layer (both dialects: CRI-O's plain tar, containerd's
 * gzip layer with whiteouts), into the empty upper directory before it is mounted; the
 * `deleted.files` paths are removed beneath the mounted rootfs, on descriptors, never
 * following a symlink.
 *
 * @module
 */
import { invalidArgument, wrap } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type Fd, openDir, openPath, removeTreeAt } from "../ffi/beneath.ts";
import type { Compression } from "./_manifest.ts";
import { normaliseMemberPath } from "./_layerplan.ts";
import { unpackLayer } from "./_unpack.ts";

/** Most paths a `deleted.files` may list. */
export const MAX_DELETED_PATHS = 100_000;

async function sniff(path: string): Promise<Compression> {
  using f = await Deno.open(path, { read: true });
  const head = new Uint8Array(4);
  const n = (await f.read(head)) ?? 0;
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (n >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    return "zstd";
  }
  return "none";
}

/**
 * Unpacks the diff tar at `tarPath` into `upperDir` (an empty overlay upper directory),
 * with `lowers` (top first) for the attributes of directories it does not list.
 */
export async function applyRootfsDiff(
  tarPath: string,
  upperDir: string,
  lowers: string[],
  logger: Logger,
): Promise<{ entries: number; bytes: number }> {
  const compression = await sniff(tarPath);
  try {
    const r = await unpackLayer({
      blob: tarPath,
      compression,
      dest: upperDir,
      lowers: () => lowers,
      logger,
    });
    return { entries: r.entries, bytes: r.tarBytes };
  } catch (err) {
    throw wrap(err, "checkpoint rootfs-diff.tar");
  }
}

/**
 * Removes each of `paths` (absolute container paths) and everything beneath it, resolved
 * beneath `root` without following symlinks (`RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS`); a path
 * that does not exist is fine. A path that climbs out is invalid-argument naming it.
 */
export async function removeBeneath(root: string, paths: readonly string[]): Promise<number> {
  if (paths.length > MAX_DELETED_PATHS) {
    throw invalidArgument(
      `deleted.files lists ${paths.length} paths, more than ${MAX_DELETED_PATHS}`,
    );
  }
  const rel = paths.map((p) => {
    if (typeof p !== "string" || !p.startsWith("/")) {
      throw invalidArgument(`deleted.files entry ${JSON.stringify(p)} is not an absolute path`);
    }
    return normaliseMemberPath(p.slice(1), "deleted.files entry");
  }).filter((p) => p !== "");
  using rootFd = openPath(root);
  let removed = 0;
  for (const p of rel) {
    const slash = p.lastIndexOf("/");
    const parent = slash === -1 ? "" : p.slice(0, slash);
    let dir: Fd | undefined;
    try {
      dir = parent === "" ? undefined : openDir(rootFd, parent);
    } catch {
      continue; // no parent (or not a directory we may enter): nothing to delete
    }
    try {
      await removeTreeAt(dir ?? rootFd, p.slice(slash + 1));
      removed++;
    } finally {
      dir?.close();
    }
  }
  return removed;
}
