/**
 * Durable writes: every file that must survive a crash whole or not at all is written to a
 * temporary file beside it (or in a staging folder on the same filesystem), fsynced,
 * renamed over its path, and its folder fsynced. A reader (or an agent restarted after a
 * crash) sees the old content or the new, never half of one.
 *
 * The one copy of this in sauropod: the agent's records and bundles, the shim's exit
 * record and pid file, the CNI attachment cache and the image content store use it.
 *
 * @module
 */

/** Options of {@link atomicWrite}. */
export interface AtomicWriteOptions {
  /**
   * Mode of the new file, exactly (the umask does not apply; default 0600: root's only).
   * The agent's callers take theirs from `runtime/modes.ts`.
   */
  mode?: number;
  /**
   * Where the temporary file goes (default: beside `path`). Must be on `path`'s filesystem;
   * a staging folder keeps half-written files out of a folder that is listed.
   */
  tmpDir?: string;
  /**
   * fsync the file and its folder (default true). False for a file that cannot outlive
   * what reads it: a bundle's config.json is read by `runc create` moments later, and after
   * a power cut no container of it runs any more (runc's state is on tmpfs), so the two
   * fsyncs would only add to CreateContainer's latency. The rename still makes it whole.
   */
  durable?: boolean;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function tmpPath(path: string, tmpDir: string | undefined): string {
  const rand = crypto.randomUUID().slice(0, 8);
  if (!tmpDir) return `${path}.tmp-${rand}`;
  return `${tmpDir}/${path.slice(path.lastIndexOf("/") + 1)}.tmp-${rand}`;
}

/**
 * Writes `data` to `path` atomically and durably. `data` may be a function that writes the
 * open temporary file itself (to stream a large file, checking it on the way: throwing
 * leaves nothing behind).
 */
export async function atomicWrite(
  path: string,
  data: string | Uint8Array | ((f: Deno.FsFile) => Promise<void>),
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const mode = opts.mode ?? 0o600;
  const tmp = tmpPath(path, opts.tmpDir);
  try {
    // Created 0600 whatever `mode` is: the content is never readable by others before the
    // chmod below settles the mode (which the umask cannot narrow).
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      if (typeof data === "function") {
        await data(f);
      } else {
        const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
        for (let off = 0; off < bytes.byteLength;) off += await f.write(bytes.subarray(off));
      }
      if (opts.durable !== false) await f.sync();
    } finally {
      f.close();
    }
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  if (opts.durable !== false) await syncDir(dirOf(path));
}

/** {@link atomicWrite} for a process that must not wait on a promise (the shim's exit). */
export function atomicWriteSync(
  path: string,
  data: string | Uint8Array,
  opts: AtomicWriteOptions = {},
): void {
  const mode = opts.mode ?? 0o600;
  const tmp = tmpPath(path, opts.tmpDir);
  try {
    const f = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      for (let off = 0; off < bytes.byteLength;) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch {
      // never made
    }
    throw err;
  }
  try {
    const d = Deno.openSync(dirOf(path), { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems refuse fsync on a folder; the rename itself is still atomic.
  }
}

/** fsyncs folder `dir`, so that a rename or removal in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems refuse fsync on a folder; the rename itself is still atomic.
  }
}
