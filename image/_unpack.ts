/**
 * Unpacks one layer blob into its own, initially empty, snapshot directory: decompression
 * (gzip, zstd or none) by `node:zlib`, tar parsing and the safety plan in {@link LayerPlan},
 * and file creation on descriptors beneath the snapshot root (`ffi/beneath.ts`).
 *
 * No name from the layer is ever handed to the kernel as a path to resolve later. Each
 * member's parent directory is opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)` from the root's descriptor, and the member is
 * made inside it by one `*at` call that never follows its last name; owner, mode, times
 * and xattrs go to the new descriptor (or, for symlinks and nodes, to the name with
 * `AT_SYMLINK_NOFOLLOW`). So no order in which the concurrent work runs (see
 * {@link Applier}) can send a write, chmod, link or removal outside the snapshot.
 *
 * Hardlinks link the target's descriptor (`linkat(AT_EMPTY_PATH)`) after checking its
 * device and inode against those recorded when this unpack made it, so they reach only
 * inodes of this layer. Lower layers are read the same way, for the attributes of
 * directories the layer uses without listing them: resolved beneath each lower root, and a
 * symlink or non-directory on the way ends the search (the directory gets 0755 root:root).
 *
 * Fidelity follows containerd's `archive.Apply` with overlay whiteouts: ownership is
 * numeric, mode bits exact (setuid/setgid re-applied after chown, which clears them),
 * modification times restored (directories last, so their own contents do not bump
 * them), extended attributes kept except `trusted.overlay.*`, which only the unpacker may
 * set. The uncompressed stream is hashed and must equal the config's diff id.
 *
 * Measured on the 70 MB, 6 000-member bench image here (2 shared, busy cores), median of
 * five: 4.8 s against 4.3 s for the path-string unpacker this replaced; making an inode costs
 * this disk 0.1–0.8 ms, which the blocking pool overlaps with parsing.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { createHash } from "node:crypto";
import * as zlib from "node:zlib";
import type { Readable } from "node:stream";
import { canceled, invalidArgument, messageOf, wrap } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { SyscallError } from "../ffi/mod.ts";
import {
  chmodAt,
  chmodFd,
  chownAt,
  chownFd,
  createFile,
  type Fd,
  FsErrno,
  linkFd,
  makeDirAt,
  makeNodeAt,
  makeSymlinkAt,
  O,
  openBeneath,
  openDir,
  openDirPath,
  openPath,
  removeTreeAt,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFMT,
  setTimesAt,
  setTimesFd,
  setXattrAt,
  setXattrFd,
  type Stat,
  statAt,
  statFd,
  unlinkAt,
  writeAll,
} from "../ffi/beneath.ts";
import type { Compression } from "./_manifest.ts";
import { type Action, LayerPlan } from "./_layerplan.ts";
import { type TarEntry, TarReader } from "./_tar.ts";

const DONE: Promise<void> = Promise.resolve();
const OPAQUE_XATTR = "trusted.overlay.opaque";
const Y = new TextEncoder().encode("y");

/** What an unpack did. */
export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Uncompressed bytes read. */
  tarBytes: number;
  /** Members applied. */
  entries: number;
}

/** Where the layer comes from and where it goes. */
export interface UnpackOptions {
  /** Path of the verified blob in the content store. */
  blob: string;
  compression: Compression;
  /** The empty snapshot directory to fill. */
  dest: string;
  /**
   * The snapshot directories of the layers below, top first, for the attributes of parent
   * directories the layer does not list. Asked for only after `lowersReady` (at the end of
   * this layer's unpack), so layers can unpack concurrently and still copy from complete
   * lower layers.
   */
  lowers: () => string[];
  /** Settles when every lower layer is unpacked; rejects when one failed. */
  lowersReady?: Promise<void>;
  /** The diff id the image config promises for this layer (absent: not checked). */
  diffId?: string;
  signal?: AbortSignal;
  logger: Logger;
}

function decompressor(c: Compression): zlib.Gunzip | zlib.ZstdDecompress | undefined {
  const opts = { chunkSize: 256 << 10 };
  if (c === "gzip") return zlib.createGunzip(opts);
  if (c === "zstd") return zlib.createZstdDecompress(opts);
  return undefined;
}

/** Chunks of `stream`, hashed into `hash`, with `signal` checked between chunks. */
async function* hashed(
  stream: Readable,
  hash: ReturnType<typeof createHash>,
  counter: { bytes: number },
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    if (signal?.aborted) throw canceled("layer unpack canceled");
    const c = chunk as Uint8Array;
    hash.update(c);
    counter.bytes += c.length;
    yield c;
  }
}

/** Unpacks a layer. On any error the caller removes `dest`; nothing is written elsewhere. */
export async function unpackLayer(o: UnpackOptions): Promise<UnpackResult> {
  // First: it opens the destination, and nothing else is open yet if that fails.
  const applier = new Applier(o.dest, o.logger);
  const file = createReadStream(o.blob, { highWaterMark: 1 << 20 });
  const inflate = decompressor(o.compression);
  let stream: Readable = file;
  let corrupt: unknown;
  let readError: unknown;
  // Errors reach us through the iteration below; a listener must exist anyway, or an error
  // emitted after we stopped reading would be an uncaught exception in the agent.
  file.on("error", (err) => {
    readError = err;
    inflate?.destroy(err);
  });
  if (inflate) {
    // Errors the decompressor raises itself mean the blob is not valid compressed data.
    inflate.on("error", (err) => {
      if (err !== readError) corrupt ??= err;
    });
    stream = file.pipe(inflate);
  }
  const hash = createHash("sha256");
  const counter = { bytes: 0 };
  const plan = new LayerPlan();
  // Awaited only at the end: if this layer fails first, a failed lower must not surface as
  // an unhandled rejection.
  o.lowersReady?.catch(() => {});
  try {
    const reader = new TarReader(hashed(stream, hash, counter, o.signal));
    for (;;) {
      const entry = await reader.next();
      if (entry === null) break;
      if (o.signal?.aborted) throw canceled("layer unpack canceled");
      for (const action of plan.step(entry)) await applier.apply(action, reader);
    }
    await reader.drain();
    await (o.lowersReady ?? DONE);
    await applier.finish(plan, o.lowers);
  } catch (err) {
    await applier.stop(err);
    if (corrupt !== undefined && err === corrupt) {
      throw invalidArgument(`layer is not valid ${o.compression} data: ${messageOf(err)}`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    applier.close();
    file.destroy();
    inflate?.destroy();
  }
  const diffId = `sha256:${hash.digest("hex")}`;
  if (o.diffId !== undefined && diffId !== o.diffId) {
    throw invalidArgument(
      `layer content does not match the image config: diff id ${diffId}, expected ${o.diffId}`,
    );
  }
  return { diffId, tarBytes: counter.bytes, entries: applier.entries };
}

/** Attributes of a directory the layer uses without listing it. */
interface DirAttrs {
  mode: number;
  uid: number;
  gid: number;
  times?: { atime: number; mtime: number };
}

const DEFAULT_DIR: DirAttrs = { mode: 0o755, uid: 0, gid: 0 };

/** File-system operations of different members run concurrently, up to this many. */
const IN_FLIGHT = 32;
/** Files up to this size are gathered in memory and written in the background. */
const SMALL_FILE = 1 << 20;

/**
 * Executes plan actions against the snapshot directory, on descriptors.
 *
 * Making an inode costs the kernel far more than parsing a member costs us, so members are
 * applied concurrently (their inode-making calls and writes run on Deno's blocking pool),
 * ordered only where the result depends on it: a member waits for its parent directory, a
 * hardlink for its target, a replacement for the last work on its name, and replacing a
 * directory for everything scheduled before it. That order is about getting the layer
 * right, not about safety: each task resolves its parent beneath the root when it runs,
 * refusing every symlink, so no interleaving can send a write outside the snapshot. The
 * first failure stops the layer: later tasks do nothing, and the caller waits for those
 * running before it removes the snapshot.
 */
class Applier {
  readonly #root: Fd;
  readonly #log: Logger;
  /** Device and inode of each non-directory this unpack made, for hardlink checks. */
  readonly #made = new Map<string, string>();
  /** Completion (never rejecting) of the last task that made, changed or read each path. */
  readonly #done = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<void>>();
  #error: unknown;
  entries = 0;

  constructor(root: string, log: Logger) {
    this.#root = openPath(root);
    this.#log = log;
  }

  /** Closes the root; call after {@link settle}. */
  close(): void {
    this.#root.close();
  }

  #after(path: string): Promise<void> {
    return this.#done.get(path) ?? DONE;
  }

  /**
   * Runs `task` once `deps` are done (and only if nothing failed so far), recording it as
   * the latest work on each of `paths`. Returns once it is scheduled.
   */
  async #schedule(paths: string[], deps: Promise<void>[], task: () => Promise<void>) {
    this.#check();
    while (this.#inFlight.size >= IN_FLIGHT) await Promise.race(this.#inFlight);
    this.#check();
    const p = Promise.all(deps).then(() => this.#error === undefined ? task() : undefined)
      .catch((err) => {
        this.#error ??= explain(err, paths[0]!);
      });
    for (const path of paths) this.#done.set(path, p);
    this.#inFlight.add(p);
    void p.finally(() => {
      this.#inFlight.delete(p);
      for (const path of paths) if (this.#done.get(path) === p) this.#done.delete(path);
    });
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Fails the layer with `err` (tasks not yet started do nothing) and waits for the rest. */
  async stop(err: unknown): Promise<void> {
    this.#error ??= err;
    await this.settle();
  }

  /** Waits for every task scheduled so far, whatever their outcome. */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** The parent directory of `path`, opened beneath the root now (undefined: the root). */
  #openParent(path: string): Fd | undefined {
    const parent = parentOf(path);
    return parent === "" ? undefined : openDirPath(this.#root, parent);
  }

  /** Applies one action: schedules it, or (streamed files, replaced directories) does it. */
  async apply(a: Action, reader: TarReader): Promise<void> {
    switch (a.op) {
      case "root":
        return await this.#schedule([""], [this.#after("")], () => {
          this.#meta(this.#root, a.entry);
          return DONE;
        });
      case "implicit-dir":
        this.entries++;
        // Exact attributes follow at the end (finish()), from the lower layers.
        return await this.#schedule(
          [a.path],
          [this.#after(parentOf(a.path)), this.#after(a.path)],
          async () => {
            using owned = this.#openParent(a.path);
            const dir = owned ?? this.#root;
            if (a.replace) unlinkAt(dir, baseOf(a.path));
            await makeDirAt(dir, baseOf(a.path), 0o700);
          },
        );
      case "update-dir":
        return await this.#schedule([a.path], [this.#after(a.path)], () => {
          using d = openDir(this.#root, a.path);
          this.#meta(d, a.entry);
          return DONE;
        });
      case "whiteout":
        this.entries++;
        return await this.#schedule([a.path], [this.#after(parentOf(a.path))], async () => {
          using owned = this.#openParent(a.path);
          await makeNodeAt(owned ?? this.#root, baseOf(a.path), S_IFCHR, 0, 0, 0);
        });
      case "opaque":
        return await this.#schedule([a.path], [this.#after(a.path)], () => {
          using d = openDir(this.#root, a.path);
          setXattrFd(d, OPAQUE_XATTR, Y);
          return DONE;
        });
      case "create":
        this.entries++;
        return await this.#create(a, reader);
    }
  }

  async #create(a: Extract<Action, { op: "create" }>, reader: TarReader): Promise<void> {
    const e = a.entry;
    const name = baseOf(a.path);
    const deps = [this.#after(parentOf(a.path)), this.#after(a.path)];
    // A hardlink reads its target: a later replacement of the target waits for it.
    const paths = a.target !== undefined ? [a.path, a.target] : [a.path];
    if (a.target !== undefined) deps.push(this.#after(a.target));
    const replace = async (dir: Fd) => {
      if (a.replace === "dir") await removeTreeAt(dir, name);
      else if (a.replace === "non-dir") unlinkAt(dir, name);
    };

    if (a.replace === "dir" || (e.type === "file" && e.size > SMALL_FILE)) {
      // Inline. Replacing a directory waits for all earlier work, which includes every
      // task beneath it; a big file streams from the reader, whose views die with the next
      // read.
      if (a.replace === "dir") await this.settle();
      else await Promise.all(deps);
      this.#check();
      try {
        using owned = this.#openParent(a.path);
        const dir = owned ?? this.#root;
        await replace(dir);
        if (e.type === "file" && e.size > SMALL_FILE) {
          using f = await createFile(dir, name, 0o600);
          for await (const chunk of reader.body()) await writeAll(f, chunk);
          this.#meta(f, e);
          this.#record(a.path, statFd(f));
          return;
        }
      } catch (err) {
        this.#error ??= explain(err, a.path);
        throw this.#error;
      }
    }

    let data: Uint8Array | undefined;
    if (e.type === "file") data = await gather(reader, e.size);
    const replaced = a.replace === "dir";
    await this.#schedule(paths, replaced ? [] : deps, async () => {
      using owned = this.#openParent(a.path);
      const dir = owned ?? this.#root;
      if (!replaced) await replace(dir);
      await this.#make(a, dir, name, data);
    });
  }

  /** Makes member `a` as `name` in `dir` (nothing is there now). */
  async #make(
    a: Extract<Action, { op: "create" }>,
    dir: Fd,
    name: string,
    data: Uint8Array | undefined,
  ): Promise<void> {
    const e = a.entry;
    switch (e.type) {
      case "dir": {
        await makeDirAt(dir, name, 0o700);
        using d = openDir(dir, name);
        this.#meta(d, e);
        if (a.opaque) setXattrFd(d, OPAQUE_XATTR, Y);
        return;
      }
      case "file": {
        using f = await createFile(dir, name, 0o600);
        if (data !== undefined && data.length > 0) await writeAll(f, data);
        this.#meta(f, e);
        this.#record(a.path, statFd(f));
        return;
      }
      case "symlink":
        await makeSymlinkAt(e.linkname, dir, name);
        if (e.uid !== 0 || e.gid !== 0) chownAt(dir, name, e.uid, e.gid);
        this.#xattrs(e, (n, v) => setXattrAt(dir, name, n, v));
        setTimesAt(dir, name, atimeOf(e), e.mtime);
        this.#record(a.path, statAt(dir, name));
        return;
      case "hardlink": {
        // The target's very inode, checked against what this unpack made at that name.
        using t = openBeneath(this.#root, a.target!, O.PATH | O.NOFOLLOW);
        const st = statFd(t);
        const id = `${st.dev}:${st.ino}`;
        if (this.#made.get(a.target!) !== id || (st.mode & S_IFMT) === S_IFDIR) {
          throw invalidArgument(
            `layer member "${e.path}" is a hardlink to "${e.linkname}", which is not a file this layer made`,
          );
        }
        await linkFd(t, dir, name);
        this.#made.set(a.path, id);
        return;
      }
      case "char":
      case "block":
      case "fifo": {
        const type = e.type === "char" ? S_IFCHR : e.type === "block" ? S_IFBLK : S_IFIFO;
        await makeNodeAt(dir, name, type, e.mode & 0o777, e.devmajor, e.devminor);
        // A node cannot be opened for f* calls without side effects (a FIFO blocks, a
        // device runs its driver's open): its name, just made in `dir`, is used instead.
        if (e.uid !== 0 || e.gid !== 0) chownAt(dir, name, e.uid, e.gid);
        this.#xattrs(e, (n, v) => setXattrAt(dir, name, n, v));
        chmodAt(dir, name, e.mode);
        setTimesAt(dir, name, atimeOf(e), e.mtime);
        this.#record(a.path, statAt(dir, name));
        return;
      }
    }
  }

  #record(path: string, st: Stat): void {
    this.#made.set(path, `${st.dev}:${st.ino}`);
  }

  /**
   * Ownership, extended attributes, exact mode and (but for directories, whose times wait
   * for the end) times, in containerd's order: chown first (it clears setuid/setgid and file
   * capabilities), then xattrs, then chmod.
   */
  #meta(fd: Fd, e: TarEntry): void {
    if (e.uid !== 0 || e.gid !== 0) chownFd(fd, e.uid, e.gid);
    this.#xattrs(e, (n, v) => setXattrFd(fd, n, v));
    chmodFd(fd, e.mode);
    if (e.type !== "dir") setTimesFd(fd, atimeOf(e), e.mtime);
  }

  #xattrs(e: TarEntry, set: (name: string, value: Uint8Array) => void): void {
    if (!e.xattrs) return;
    for (const [name, value] of e.xattrs) {
      if (name.startsWith("trusted.overlay.")) {
        this.#log.warn("ignored overlay xattr from image layer", { path: e.path, xattr: name });
        continue;
      }
      try {
        set(name, value);
      } catch (err) {
        if (!isNotSupported(err)) throw err;
        this.#log.warn("ignored xattr the file system refuses", { path: e.path, xattr: name });
      }
    }
  }

  /**
   * After the last member (and once the lower layers are complete): waits for all work,
   * gives each directory the layer used without listing it the attributes of the nearest
   * lower layer's directory of that name (overlayfs shows the upper directory's, and
   * containerd copies them the same way), else 0755 root:root like Docker; then restores
   * directory times, now that nothing more is written into them.
   */
  async finish(plan: LayerPlan, lowers: () => string[]): Promise<void> {
    await this.settle();
    this.#check();
    const lowerFds: Fd[] = [];
    try {
      for (const l of lowers()) lowerFds.push(openPath(l));
      for (const d of plan.directories()) {
        try {
          using owned = d.path === "" ? undefined : openDir(this.#root, d.path);
          const dir = owned ?? this.#root;
          if (d.implicit !== undefined) {
            const attrs = d.implicit === "lowers" ? lowerDirAttrs(lowerFds, d.path) : DEFAULT_DIR;
            if (attrs.uid !== 0 || attrs.gid !== 0) chownFd(dir, attrs.uid, attrs.gid);
            chmodFd(dir, attrs.mode);
            if (attrs.times) setTimesFd(dir, attrs.times.atime, attrs.times.mtime);
          } else if (d.mtime !== undefined) {
            setTimesFd(dir, d.atime ?? d.mtime, d.mtime);
          }
        } catch (err) {
          throw explain(err, d.path || ".");
        }
      }
    } finally {
      for (const fd of lowerFds) fd.close();
    }
  }
}

/** A small file's whole body in one buffer (the reader's views, or a copy when split). */
async function gather(reader: TarReader, size: number): Promise<Uint8Array> {
  let first: Uint8Array | undefined;
  let all: Uint8Array | undefined;
  let off = 0;
  for await (const chunk of reader.body()) {
    if (first === undefined && chunk.length === size) {
      first = chunk;
      continue;
    }
    all ??= new Uint8Array(size);
    all.set(chunk, off);
    off += chunk.length;
  }
  return first ?? all ?? new Uint8Array(0);
}

/**
 * The attributes of `path` in the nearest lower layer that has the name, resolved beneath
 * each lower root without following anything. The nearest layer with the name decides,
 * as overlayfs does: a directory gives its attributes; a non-directory, a whiteout, a
 * symlink (at the end or on the way) or a non-directory on the way give the default.
 */
function lowerDirAttrs(lowers: Fd[], path: string): DirAttrs {
  for (const lower of lowers) {
    let st: Stat;
    try {
      using fd = openBeneath(lower, path, O.PATH | O.NOFOLLOW);
      st = statFd(fd);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === FsErrno.ENOENT) continue;
      if (
        err instanceof SyscallError &&
        (err.errno === FsErrno.ELOOP || err.errno === FsErrno.ENOTDIR)
      ) {
        return DEFAULT_DIR;
      }
      throw err;
    }
    if ((st.mode & S_IFMT) !== S_IFDIR) return DEFAULT_DIR;
    return {
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      times: { atime: st.atime, mtime: st.mtime },
    };
  }
  return DEFAULT_DIR;
}

/** An extended attribute the file system does not take (ENOTSUP, or EPERM for user.* on links). */
function isNotSupported(err: unknown): boolean {
  return err instanceof SyscallError &&
    (err.errno === FsErrno.ENOTSUP || err.errno === FsErrno.EPERM);
}

/**
 * A failed call on member `path` as an error naming the member and, where the kernel
 * refused a resolution, the rule: these cannot happen for a plan the planner accepted, but
 * if they do, the layer is at fault, not the node.
 */
function explain(err: unknown, path: string): unknown {
  if (!(err instanceof SyscallError)) return err;
  const rule = {
    [FsErrno.ELOOP]: "would be written through a symlink",
    [FsErrno.EXDEV]: "resolves outside the layer",
    [FsErrno.ENOTDIR]: "needs a directory where the layer has none",
    [FsErrno.EEXIST]: "names something the layer already has",
    [FsErrno.ENAMETOOLONG]: "has a name the kernel cannot take",
  }[err.errno];
  if (rule !== undefined) {
    return invalidArgument(`layer member "${path}" ${rule} (${err.message})`, { cause: err });
  }
  return wrap(err, `cannot unpack "${path}"`);
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? "" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** atime = the later of atime and mtime (containerd's `latestTime`), mtime as archived. */
function atimeOf(e: TarEntry): number {
  return e.atime !== undefined && e.atime > e.mtime ? e.atime : e.mtime;
}
