/**
 * Disk usage of a directory tree the way `du` counts it (containerd's `fs.DiskUsage`):
 * allocated blocks, each inode once however many hardlinks point at it.
 *
 * @module
 */

/** Bytes allocated and inodes used under `dir` (including `dir`). Missing → zeros. */
export async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<number>();
  let bytes = 0;
  const count = (st: Deno.FileInfo) => {
    if (st.ino !== null && st.nlink !== null && st.nlink > 1) {
      if (seen.has(st.ino)) return;
      seen.add(st.ino);
    }
    bytes += (st.blocks ?? 0) * 512;
    inodes++;
  };
  let inodes = 0;
  let root: Deno.FileInfo;
  try {
    root = await Deno.lstat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { bytes: 0, inodes: 0 };
    throw err;
  }
  count(root);
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // removed while we walked
      throw err;
    }
    const stats = await Promise.all(
      entries.map((e) => Deno.lstat(`${d}/${e.name}`).catch(() => undefined)),
    );
    for (const [i, st] of stats.entries()) {
      if (!st) continue;
      count(st);
      if (st.isDirectory) stack.push(`${d}/${entries[i]!.name}`);
    }
  }
  return { bytes, inodes };
}
