/**
 * Unpacks one layer blob into its own, initially empty, snapshot directory: decompression
 * (gzip, zstd or none) by `node:zlib`, tar parsing and the safety plan in {@link LayerPlan},
 * file creation through Deno's file-system ops (run concurrently, see {@link Applier}),
 * and the few calls Deno lacks (device nodes, extended attributes) through
 * `ffi/fsnode.ts`.
 *
 * Measured on a 46 MB gzip layer of 1,700 Debian files (122 MB of tar), median of five:
 * this unpacker 0.94 s, GNU `tar -xzpf` 1.02 s (and tar would still need our own pass
 * for validation and whiteouts); awaiting each file op in turn took 1.1–2.6 s, Deno's
 * synchronous ops 1.8 s.
 *
 * Fidelity follows containerd's `archive.Apply` with overlay whiteouts: ownership is
 * numeric, mode bits exact (setuid/setgid re-applied after chown, which clears them),
 * modification times restored (directories last, so their own contents do not bump
 * them), extended attributes kept except `trusted.overlay.*`, which only the unpacker may
 * set. The uncompressed stream is hashed and must equal the config's diff id.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { lchown, lutimes } from "node:fs/promises";
import { createHash } from "node:crypto";
import * as zlib from "node:zlib";
import type { Readable } from "node:stream";
import { canceled, invalidArgument, messageOf, wrap } from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import {
  isNotSupported,
  lsetxattr,
  mknod,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  symlink,
} from "../../ffi/fsnode.ts";
import type { Compression } from "./_manifest.ts";
import { type Action, LayerPlan } from "./_layerplan.ts";
import { type TarEntry, TarReader } from "./_tar.ts";

const DONE: Promise<void> = Promise.resolve();
/** Files up to this size are gathered in memory and written with one call. */
const SMALL_FILE = 1 << 20;
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
   * directories the layer does not list. Asked for only after `lowersReady`, so layers can
   * unpack concurrently and still copy from complete lower layers.
   */
  lowers: () => string[];
  /** Settles when every lower layer is unpacked; rejects when one failed. */
  lowersReady?: Promise<void>;
  /** The diff id the image config promises for this layer. */
  diffId: string;
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
  const applier = new Applier(o.dest, o.lowers, o.lowersReady ?? DONE, o.logger);
  try {
    const reader = new TarReader(hashed(stream, hash, counter, o.signal));
    const plan = new LayerPlan();
    for (;;) {
      const entry = await reader.next();
      if (entry === null) break;
      for (const action of plan.step(entry)) await applier.apply(action, reader);
    }
    await reader.drain();
    await applier.finish();
  } catch (err) {
    await applier.settle();
    if (corrupt !== undefined && err === corrupt) {
      throw invalidArgument(`layer is not valid ${o.compression} data: ${messageOf(err)}`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    file.destroy();
    inflate?.destroy();
  }
  const diffId = `sha256:${hash.digest("hex")}`;
  if (diffId !== o.diffId) {
    throw invalidArgument(
      `layer content does not match the image config: diff id ${diffId}, expected ${o.diffId}`,
    );
  }
  return { diffId, tarBytes: counter.bytes, entries: applier.entries };
}

interface DirTimes {
  path: string;
  atime: number;
  mtime: number;
}

/** File-system operations of different members run concurrently, up to this many. */
const IN_FLIGHT = 32;

/**
 * Executes plan actions against the snapshot directory.
 *
 * Deno runs file-system ops on a thread pool, so awaiting them one by one leaves the
 * JavaScript thread idle most of the time. Members are therefore applied concurrently,
 * ordered only where it matters: a member waits for its parent directory, a hardlink for
 * its target, a replacement for whatever it replaces. Small files are gathered and
 * written with one op in the background; large ones stream from the reader inline, so at
 * most {@link IN_FLIGHT} small bodies are held in memory at once.
 */
class Applier {
  readonly #root: string;
  readonly #lowers: () => string[];
  readonly #lowersReady: Promise<void>;
  readonly #log: Logger;
  readonly #dirTimes: DirTimes[] = [];
  /** Completion (never rejecting) of the last task that created or changed each path. */
  readonly #done = new Map<string, Promise<void>>([["", DONE]]);
  readonly #inFlight = new Set<Promise<void>>();
  #error: unknown;
  entries = 0;

  constructor(root: string, lowers: () => string[], lowersReady: Promise<void>, log: Logger) {
    this.#root = root;
    this.#lowers = lowers;
    this.#lowersReady = lowersReady;
    this.#log = log;
  }

  #abs(path: string): string {
    return path === "" ? this.#root : `${this.#root}/${path}`;
  }

  #after(path: string): Promise<void> {
    return this.#done.get(path) ?? DONE;
  }

  /** Runs `task` once `deps` are done, recording it as the latest work on `path`. */
  async #schedule(path: string, deps: Promise<void>[], task: () => Promise<void>): Promise<void> {
    this.#check();
    while (this.#inFlight.size >= IN_FLIGHT) await Promise.race(this.#inFlight);
    const p = Promise.all(deps).then(task).catch((err) => {
      this.#error ??= wrap(err, `cannot unpack "${path}"`);
    });
    this.#done.set(path, p);
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  #check(): void {
    if (this.#error !== undefined) throw this.#error;
  }

  /** Applies one action; returns once it is scheduled (or done, for streamed files). */
  async apply(a: Action, reader: TarReader): Promise<void> {
    switch (a.op) {
      case "root":
        return await this.#schedule("", [this.#after("")], async () => {
          await this.#meta(this.#root, a.entry, true);
          this.#dirTimes.push({ path: this.#root, ...times(a.entry) });
        });
      case "implicit-dir":
        this.entries++;
        return await this.#schedule(
          a.path,
          [this.#after(parentOf(a.path))],
          () => this.#implicitDir(a.path),
        );
      case "update-dir":
        return await this.#schedule(a.path, [this.#after(a.path)], async () => {
          await this.#meta(this.#abs(a.path), a.entry, true);
          this.#dirTimes.push({ path: this.#abs(a.path), ...times(a.entry) });
        });
      case "whiteout":
        this.entries++;
        return await this.#schedule(a.path, [this.#after(parentOf(a.path))], () => {
          mknod(this.#abs(a.path), S_IFCHR, 0, 0, 0);
          return DONE;
        });
      case "opaque":
        return await this.#schedule(a.path, [this.#after(a.path)], () => {
          lsetxattr(this.#abs(a.path), OPAQUE_XATTR, Y);
          return DONE;
        });
      case "create":
        return await this.#create(a, reader);
    }
  }

  async #create(a: Extract<Action, { op: "create" }>, reader: TarReader): Promise<void> {
    const abs = this.#abs(a.path);
    const e = a.entry;
    this.entries++;
    const deps = [this.#after(parentOf(a.path))];
    if (a.replace !== "none") deps.push(this.#after(a.path));
    if (a.target !== undefined) deps.push(this.#after(a.target));
    const replace = async () => {
      if (a.replace === "dir") await Deno.remove(abs, { recursive: true });
      else if (a.replace === "non-dir") await Deno.remove(abs);
    };

    if (e.type === "file" && e.size > SMALL_FILE) {
      // Streamed inline: the body views die with the next read.
      this.#check();
      await Promise.all(deps);
      this.#check();
      try {
        await replace();
        const f = await Deno.open(abs, { write: true, createNew: true, mode: e.mode & 0o777 });
        try {
          for await (const chunk of reader.body()) {
            let off = 0;
            while (off < chunk.length) off += await f.write(chunk.subarray(off));
          }
        } finally {
          f.close();
        }
        await this.#meta(abs, e, true);
      } catch (err) {
        throw wrap(err, `cannot unpack "${a.path}"`);
      }
      return;
    }

    let data: Uint8Array | undefined;
    if (e.type === "file") data = await gather(reader, e.size);
    await this.#schedule(a.path, deps, async () => {
      await replace();
      switch (e.type) {
        case "dir":
          await Deno.mkdir(abs, { mode: e.mode });
          await this.#meta(abs, e, true);
          if (a.opaque) lsetxattr(abs, OPAQUE_XATTR, Y);
          this.#dirTimes.push({ path: abs, ...times(e) });
          return;
        case "file":
          // writeFile applies the exact mode (it chmods); open() would be subject to umask.
          await Deno.writeFile(abs, data!, { createNew: true, mode: e.mode });
          await this.#meta(abs, e, false);
          return;
        case "symlink":
          symlink(e.linkname, abs);
          if (e.uid !== 0 || e.gid !== 0) await lchown(abs, e.uid, e.gid);
          this.#xattrs(abs, e);
          await lutimes(abs, times(e).atime, e.mtime);
          return;
        case "hardlink":
          await Deno.link(this.#abs(a.target!), abs);
          return;
        case "char":
        case "block":
        case "fifo": {
          const type = e.type === "char" ? S_IFCHR : e.type === "block" ? S_IFBLK : S_IFIFO;
          mknod(abs, type, e.mode, e.devmajor, e.devminor);
          await this.#meta(abs, e, true);
          return;
        }
      }
    });
  }

  /**
   * Ownership, extended attributes, exact mode and times, in containerd's order: chown
   * first (it clears setuid/setgid and file capabilities), then xattrs, then chmod.
   */
  async #meta(abs: string, e: TarEntry, chmod: boolean): Promise<void> {
    const chowned = e.uid !== 0 || e.gid !== 0;
    if (chowned) await Deno.chown(abs, e.uid, e.gid);
    this.#xattrs(abs, e);
    if (chmod || (chowned && (e.mode & 0o6000) !== 0)) await Deno.chmod(abs, e.mode);
    if (e.type !== "dir") {
      const t = times(e);
      await Deno.utime(abs, t.atime, t.mtime);
    }
  }

  #xattrs(abs: string, e: TarEntry): void {
    if (!e.xattrs) return;
    for (const [name, value] of e.xattrs) {
      if (name.startsWith("trusted.overlay.")) {
        this.#log.warn("ignored overlay xattr from image layer", { path: e.path, xattr: name });
        continue;
      }
      try {
        lsetxattr(abs, name, value);
      } catch (err) {
        if (!isNotSupported(err)) throw err;
        this.#log.warn("ignored xattr the file system refuses", { path: e.path, xattr: name });
      }
    }
  }

  /**
   * A directory the layer uses without listing it. overlayfs shows the upper directory's
   * attributes, so copy them from the nearest lower layer that has the directory (as
   * containerd does with its parent layers), else use 0755 root:root like Docker.
   */
  async #implicitDir(path: string): Promise<void> {
    const abs = this.#abs(path);
    let src: Deno.FileInfo | undefined;
    await this.#lowersReady;
    for (const lower of this.#lowers()) {
      try {
        const st = await Deno.lstat(`${lower}/${path}`);
        if (st.isDirectory) src = st;
        break; // the nearest layer that has the name decides, directory or not
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory)) {
          throw err;
        }
      }
    }
    await Deno.mkdir(abs);
    const mode = src?.mode !== undefined && src.mode !== null ? src.mode & 0o7777 : 0o755;
    if (src && (src.uid !== 0 || src.gid !== 0)) await Deno.chown(abs, src.uid!, src.gid!);
    await Deno.chmod(abs, mode);
    if (src?.mtime) {
      this.#dirTimes.push({
        path: abs,
        atime: (src.atime ?? src.mtime).getTime() / 1000,
        mtime: src.mtime.getTime() / 1000,
      });
    }
  }

  /** Waits for every scheduled task, ignoring their outcome (cleanup after a failure). */
  async settle(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  /** Waits for all work, then restores directory times (nothing writes into them after). */
  async finish(): Promise<void> {
    await this.settle();
    this.#check();
    for (let i = this.#dirTimes.length - 1; i >= 0; i--) {
      const d = this.#dirTimes[i]!;
      await Deno.utime(d.path, d.atime, d.mtime);
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

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? "" : path.slice(0, i);
}

/** atime = the later of atime and mtime (containerd's `latestTime`), mtime as archived. */
function times(e: TarEntry): { atime: number; mtime: number } {
  const atime = e.atime !== undefined && e.atime > e.mtime ? e.atime : e.mtime;
  return { atime, mtime: e.mtime };
}
