/**
 * Snapshots: numbered directories under `<root>/snapshots/`, like containerd's overlay
 * snapshotter. A layer snapshot `<n>/fs` holds one unpacked layer and is named by its
 * chain id; a container snapshot holds the container's writable `<n>/fs` and overlay
 * `<n>/work`. Short numeric paths keep a deep image's `lowerdir=` list within one page.
 *
 * States: a layer is `extracting` while it is unpacked and `committed` once complete and
 * flushed to disk (`syncfs`); a container snapshot is `active`. Only committed layers are
 * ever mounted.
 *
 * Recovery (on open): a crash can leave an `extracting` row, or a numbered directory the
 * database never recorded (a crash between mkdir and insert is impossible — we insert
 * first — but one between delete and rm is not). Both are removed. Container snapshots are
 * left alone: the runtime decides, and calls {@link Snapshotter.unmount} for orphans.
 *
 * @module
 */
import { failedPrecondition, wrap } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { attachMount, cloneMount, unmount } from "../ffi/mount.ts";
import {
  O,
  openBeneath,
  openPath,
  RESOLVE_BENEATH_FOLLOW,
  syncFileSystem,
} from "../ffi/beneath.ts";
import { mountOverlay } from "../ffi/overlay.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";
import type { ImageDb, SnapshotRow } from "./_store.ts";
import { diskUsage } from "./_usage.ts";
import { mountsAt, mountsUnder } from "./_mountinfo.ts";

const CONTAINER_PREFIX = "container:";

/** Snapshot directories and the overlay mounts built from them. */
export class Snapshotter {
  readonly #root: string;
  readonly #db: ImageDb;
  readonly #log: Logger;
  readonly #preparing = new Map<string, Promise<void>>();
  readonly #extra: string[];

  private constructor(root: string, db: ImageDb, log: Logger, extra: string[]) {
    this.#root = root;
    this.#db = db;
    this.#log = log;
    this.#extra = extra;
  }

  /** Opens the snapshot directory `root`, removing what an interrupted unpack left. */
  static async open(root: string, db: ImageDb, log: Logger): Promise<Snapshotter> {
    await Deno.mkdir(root, { recursive: true, mode: 0o700 });
    // With an index, overlayfs ties a lower layer to its first upper; containerd turns it
    // off (when the kernel has the knob) so layers can be shared by many containers.
    const extra: string[] = [];
    try {
      await kernfs.stat("/sys/module/overlay/parameters/index");
      extra.push("index=off");
    } catch { /* old kernel: no index feature, nothing to turn off */ }
    const s = new Snapshotter(root, db, log, extra);
    // The second lower of a one-layer read-only stack (see mountImage); never written.
    await Deno.mkdir(`${root}/empty`, { recursive: true, mode: 0o755 });
    await s.#recover();
    return s;
  }

  async #recover(): Promise<void> {
    const rows = this.#db.snapshots();
    for (const r of rows) {
      if (r.state === "extracting") {
        this.#log.info("removing snapshot of an interrupted unpack", { snapshot: r.key });
        await this.#removeDir(r.id);
        this.#db.deleteSnapshot(r.key);
      }
    }
    const known = new Set(this.#db.snapshots().map((r) => String(r.id)));
    for await (const e of Deno.readDir(this.#root)) {
      if (!e.isDirectory || known.has(e.name)) continue;
      if (!/^\d+$/.test(e.name)) continue;
      this.#log.info("removing unrecorded snapshot directory", { dir: e.name });
      await Deno.remove(`${this.#root}/${e.name}`, { recursive: true });
    }
  }

  /** The root of all snapshots (the image file system's mount point for ImageFsInfo). */
  get root(): string {
    return this.#root;
  }

  #dir(id: number): string {
    return `${this.#root}/${id}`;
  }

  async #removeDir(id: number): Promise<void> {
    await Deno.remove(this.#dir(id), { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }

  /** The unpacked directory of a committed layer, or undefined. */
  layerDir(chainId: string): string | undefined {
    const r = this.#db.snapshot(chainId);
    return r?.state === "committed" ? `${this.#dir(r.id)}/fs` : undefined;
  }

  /** True when the layer named by `chainId` is unpacked and committed. */
  has(chainId: string): boolean {
    return this.layerDir(chainId) !== undefined;
  }

  /**
   * Makes sure layer `chainId` is unpacked: if not, reserves a directory, lets `fill`
   * unpack into it, measures it and commits it. Concurrent calls for one chain id share
   * the work. On failure the directory and its row are removed.
   */
  async prepare(chainId: string, fill: (dest: string) => Promise<void>): Promise<"exists" | "new"> {
    if (this.has(chainId)) return "exists";
    const running = this.#preparing.get(chainId);
    if (running) {
      await running;
      return "exists";
    }
    const p = this.#prepare(chainId, fill);
    this.#preparing.set(chainId, p);
    try {
      await p;
      return "new";
    } finally {
      this.#preparing.delete(chainId);
    }
  }

  async #prepare(chainId: string, fill: (dest: string) => Promise<void>): Promise<void> {
    const stale = this.#db.snapshot(chainId);
    if (stale) {
      // An extracting row without a running unpack is the leftover of a failure.
      await this.#removeDir(stale.id);
      this.#db.deleteSnapshot(chainId);
    }
    const id = this.#db.addSnapshot(chainId, "layer", "extracting", []);
    const dir = this.#dir(id);
    try {
      await Deno.mkdir(`${dir}/fs`, { recursive: true, mode: 0o755 });
      await fill(`${dir}/fs`);
      // Durable before committed: a committed layer is never unpacked again, so its files
      // must be on disk before the row says so, or a power cut leaves it torn for good. One
      // syncfs of the file system (off the JS thread) costs far less than an fsync per file.
      {
        using fd = openPath(dir);
        await syncFileSystem(fd);
      }
      const usage = await diskUsage(dir);
      this.#db.commitSnapshot(chainId, usage);
    } catch (err) {
      await this.#removeDir(id).catch((e) =>
        this.#log.error("cannot remove failed snapshot", { snapshot: chainId, error: e })
      );
      this.#db.deleteSnapshot(chainId);
      throw err;
    }
  }

  /** True while `chainId` is being unpacked (garbage collection leaves it alone). */
  busy(chainId: string): boolean {
    return this.#preparing.has(chainId);
  }

  /** Every snapshot row. */
  rows(): SnapshotRow[] {
    return this.#db.snapshots();
  }

  /** True when a container's writable snapshot has layer `chainId` below it (live). */
  usedByContainer(chainId: string): boolean {
    return this.#db.containerUses(chainId);
  }

  /** Removes a committed layer snapshot. */
  async remove(key: string): Promise<void> {
    const r = this.#db.snapshot(key);
    if (!r) return;
    // Forget first: a crash between the two leaves an unrecorded directory, which open()
    // removes, rather than a row pointing at a half-deleted tree.
    this.#db.deleteSnapshot(key);
    await this.#removeDir(r.id);
  }

  /** The directories of layers `chainIds` (bottom first), top first as overlayfs lists them. */
  #lowerDirs(chainIds: string[]): string[] {
    const lower: string[] = [];
    for (const c of [...chainIds].reverse()) {
      const d = this.layerDir(c);
      if (!d) {
        throw failedPrecondition(
          `layer ${c} of the image is not unpacked (removed while in use?); pull the image again`,
        );
      }
      lower.push(d);
    }
    return lower;
  }

  /**
   * Mounts the layers `chainIds` (bottom first) read-only on directory `target`: an overlay
   * of lower directories only, no upper, so nothing can be written through it (an image
   * volume). With `subPath`, only that directory of the image is mounted there, resolved
   * on descriptors beneath the image's root (symlinks followed only while they stay
   * beneath it); its errors are {@link SyscallError}s (ENOENT, ENOTDIR, EXDEV, ELOOP) for
   * the caller to name. `target` is the agent's own directory; the mounts land on the inode
   * opened here. On failure nothing stays mounted.
   */
  mountImage(chainIds: string[], target: string, subPath: string): void {
    const lower = this.#lowerDirs(chainIds);
    // overlayfs without an upper directory needs two lowers at least.
    while (lower.length < 2) lower.push(`${this.#root}/empty`);
    using at = openPath(target, O.PATH | O.DIRECTORY);
    mountOverlay(at, { lower, readonly: true, extra: this.#extra });
    if (subPath === "") return;
    try {
      // Copy the sub directory's mount, then take the whole image away: the copy holds the
      // overlay, and only the sub directory is reachable at `target`.
      let tree;
      {
        using root = openPath(target, O.PATH | O.DIRECTORY);
        using sub = openBeneath(root, subPath, O.PATH | O.DIRECTORY, 0, RESOLVE_BENEATH_FOLLOW);
        tree = cloneMount(sub);
      }
      using _tree = tree;
      unmount(target, { detach: true });
      attachMount(tree, at);
    } catch (err) {
      while (unmount(target, { detach: true }));
      throw err;
    }
  }

  /**
   * Unmounts every mount under directory `dir` (deepest first, detaching one still busy).
   * Idempotent.
   */
  async unmountAll(dir: string): Promise<void> {
    for (const mp of (await mountsUnder(dir)).reverse()) {
      while (unmount(mp, { detach: true }));
    }
  }

  /**
   * Creates (or reuses) the writable snapshot of container `containerId` on top of the
   * layers `chainIds` (bottom first) and mounts the overlay on `target`. Undoes what it
   * created when the mount fails.
   */
  async mount(
    containerId: string,
    chainIds: string[],
    target: string,
  ): Promise<{ upperDir: string; created: boolean }> {
    const lower = this.#lowerDirs(chainIds);
    const key = CONTAINER_PREFIX + containerId;
    let row = this.#db.snapshot(key);
    const created = row === undefined;
    if (!row) {
      const id = this.#db.addSnapshot(key, "container", "active", chainIds);
      row = this.#db.snapshot(key)!;
      try {
        await Deno.mkdir(`${this.#dir(id)}/fs`, { recursive: true, mode: 0o755 });
        await Deno.mkdir(`${this.#dir(id)}/work`, { mode: 0o700 });
      } catch (err) {
        await this.#dropContainer(key, id);
        throw wrap(err, `cannot create the writable layer of container "${containerId}"`);
      }
    }
    const dir = this.#dir(row.id);
    if (lower.length === 0) {
      // An image without layers: overlayfs still wants a lower directory.
      await Deno.mkdir(`${dir}/empty`, { recursive: true, mode: 0o755 });
      lower.push(`${dir}/empty`);
    }
    try {
      if ((await mountsAt(target)) === 0) {
        const how = mountOverlay(target, {
          lower,
          upper: `${dir}/fs`,
          work: `${dir}/work`,
          extra: this.#extra,
        });
        this.#log.debug("mounted container rootfs", {
          containerId,
          target,
          layers: lower.length,
          via: how,
        });
      }
    } catch (err) {
      if (created) await this.#dropContainer(key, row.id);
      throw wrap(err, `cannot mount the root file system of container "${containerId}"`);
    }
    return { upperDir: `${dir}/fs`, created };
  }

  async #dropContainer(key: string, id: number): Promise<void> {
    this.#db.deleteSnapshot(key);
    await this.#removeDir(id).catch((err) =>
      this.#log.error("cannot remove container snapshot", { snapshot: key, error: err })
    );
  }

  /**
   * Unmounts `target` (every mount stacked there) and removes the container's snapshot.
   * Idempotent: nothing mounted and no snapshot is success.
   */
  async unmount(containerId: string, target: string): Promise<void> {
    for (let i = 0; i < 16 && (await mountsAt(target)) > 0; i++) {
      try {
        unmount(target);
      } catch (err) {
        // EBUSY: a process still has a file open in it; wait a little, then detach so the
        // tree goes away once the last user lets go.
        if (i < 3) {
          await new Promise((r) => setTimeout(r, 50 * (i + 1)));
          continue;
        }
        this.#log.warn("rootfs busy, detaching", { containerId, target, error: err });
        unmount(target, { detach: true });
      }
    }
    const key = CONTAINER_PREFIX + containerId;
    const row = this.#db.snapshot(key);
    if (row) await this.#dropContainer(key, row.id);
  }

  /** Disk usage of a container's writable layer. */
  async containerUsage(row: SnapshotRow): Promise<{ bytes: number; inodes: number }> {
    return await diskUsage(this.#dir(row.id));
  }
}
