/**
 * The content store: blobs by digest under `<root>/images/blobs/sha256/<hex>`.
 *
 * A blob is written to `<root>/images/ingest/` while it streams in, hashed on the way,
 * then checked (size and sha256), fsynced and renamed into place; so a blob file under
 * `blobs/` is always complete and verified, and a partial download is never visible.
 * Concurrent writers of one digest share a single download. `ingest/` holds nothing a
 * restart needs: {@link ContentStore.open} empties it.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { invalidArgument, wrap } from "../errors/mod.ts";
import { hexOf, sha256 } from "./_digest.ts";
import { atomicWrite } from "../lib/fs.ts";

/** Where ingest bytes come from: a function that yields the blob from `offset` on. */
export type BlobSource = (
  offset: number,
) => Promise<{ offset: number; body: AsyncIterable<Uint8Array> }>;

/** Progress callback: bytes of this blob written so far. */
export type Progress = (done: number) => void;

/** The store. */
export class ContentStore {
  readonly #blobs: string;
  readonly #ingest: string;
  readonly #inflight = new Map<string, Promise<void>>();
  /** Deletions started and not finished: a blob being deleted is not there any more. */
  readonly #deleting = new Map<string, Promise<void>>();

  private constructor(root: string) {
    this.#blobs = `${root}/blobs/sha256`;
    this.#ingest = `${root}/ingest`;
  }

  /** Opens the store under `root` (`<root dir>/images`), discarding partial downloads. */
  static async open(root: string): Promise<ContentStore> {
    const s = new ContentStore(root);
    await Deno.remove(s.#ingest, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    await Deno.mkdir(s.#ingest, { recursive: true, mode: 0o700 });
    await Deno.mkdir(s.#blobs, { recursive: true, mode: 0o700 });
    return s;
  }

  /** The file of a blob (which may not exist). */
  path(digest: string): string {
    return `${this.#blobs}/${hexOf(digest)}`;
  }

  /** Waits for a deletion of `digest` that has started, so no one sees it half-gone. */
  async #settled(digest: string): Promise<void> {
    const d = this.#deleting.get(digest);
    if (d) await d.catch(() => {});
  }

  /** True when the blob is stored with the expected size. */
  async has(digest: string, size?: number): Promise<boolean> {
    await this.#settled(digest);
    try {
      const st = await Deno.stat(this.path(digest));
      return size === undefined || st.size === size;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
  }

  /** Reads a small blob (a manifest or config) whole. */
  async read(digest: string): Promise<Uint8Array> {
    await this.#settled(digest);
    return await Deno.readFile(this.path(digest));
  }

  /** Stores bytes already in memory after checking their digest. */
  async put(digest: string, bytes: Uint8Array): Promise<void> {
    const got = sha256(bytes);
    if (got !== digest) {
      throw invalidArgument(`content of ${digest} has digest ${got}`);
    }
    if (await this.has(digest, bytes.length)) return;
    await this.#commit(digest, async (f) => {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
    });
  }

  /**
   * Streams a blob in from `source` unless it is already stored. Concurrent calls for the
   * same digest share one download. `source` is called again with the byte offset reached
   * when `retry` says the failure is worth another attempt (a registry that honours
   * `Range` resumes; one that answers from offset 0 restarts).
   */
  async ingest(
    digest: string,
    size: number,
    source: BlobSource,
    opts: { progress?: Progress; retry?: (err: unknown, attempt: number) => Promise<boolean> },
  ): Promise<"fetched" | "present"> {
    if (await this.has(digest, size)) return "present";
    const running = this.#inflight.get(digest);
    if (running) {
      await running;
      return "present";
    }
    const p = this.#download(digest, size, source, opts);
    this.#inflight.set(digest, p);
    try {
      await p;
      return "fetched";
    } finally {
      this.#inflight.delete(digest);
    }
  }

  async #download(
    digest: string,
    size: number,
    source: BlobSource,
    opts: { progress?: Progress; retry?: (err: unknown, attempt: number) => Promise<boolean> },
  ): Promise<void> {
    await this.#commit(digest, async (f) => {
      let hash: Hash = createHash("sha256");
      let done = 0;
      for (let attempt = 1;; attempt++) {
        try {
          const r = await source(done);
          if (r.offset !== done) {
            // The server ignored our Range: start over.
            await f.truncate(0);
            await f.seek(0, Deno.SeekMode.Start);
            hash = createHash("sha256");
            done = 0;
          }
          for await (const chunk of r.body) {
            if (done + chunk.length > size) {
              throw invalidArgument(
                `blob ${digest} is larger than the ${size} bytes its descriptor declares`,
              );
            }
            hash.update(chunk);
            let off = 0;
            while (off < chunk.length) off += await f.write(chunk.subarray(off));
            done += chunk.length;
            opts.progress?.(done);
          }
          break;
        } catch (err) {
          if (!opts.retry || !(await opts.retry(err, attempt))) throw err;
        }
      }
      if (done !== size) {
        throw invalidArgument(`blob ${digest} is ${done} bytes, its descriptor declares ${size}`);
      }
      const got = `sha256:${hash.digest("hex")}`;
      if (got !== digest) {
        throw invalidArgument(`blob ${digest} failed verification: its content has digest ${got}`);
      }
    });
  }

  /** Writes the blob with `write` (which checks it), durably, into its path. */
  async #commit(digest: string, write: (f: Deno.FsFile) => Promise<void>): Promise<void> {
    // The download's own errors (verification, network) pass as they are.
    let writing = true;
    const writeAll = async (f: Deno.FsFile) => {
      await write(f);
      writing = false;
    };
    try {
      await atomicWrite(this.path(digest), writeAll, { mode: 0o644, tmpDir: this.#ingest });
    } catch (err) {
      throw writing ? err : wrap(err, `cannot store blob ${digest}`);
    }
  }

  /** Every stored digest. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for await (const e of Deno.readDir(this.#blobs)) {
      if (e.isFile && /^[0-9a-f]{64}$/.test(e.name)) out.push(`sha256:${e.name}`);
    }
    return out;
  }

  /** Total bytes of stored blobs. */
  async usage(): Promise<{ bytes: number; inodes: number }> {
    let bytes = 0;
    let inodes = 0;
    for await (const e of Deno.readDir(this.#blobs)) {
      try {
        const st = await Deno.lstat(`${this.#blobs}/${e.name}`);
        bytes += (st.blocks ?? 0) * 512;
        inodes++;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return { bytes, inodes };
  }

  /** True while a download of `digest` is running (garbage collection leaves it alone). */
  busy(digest: string): boolean {
    return this.#inflight.has(digest);
  }

  /**
   * Deletes a blob; a missing one is fine. From the call on (before it yields), `has`,
   * `read` and `ingest` of the digest wait for the deletion and then see no blob.
   */
  delete(digest: string): Promise<void> {
    const p = Deno.remove(this.path(digest)).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }).finally(() => {
      if (this.#deleting.get(digest) === p) this.#deleting.delete(digest);
    });
    this.#deleting.set(digest, p);
    return p;
  }
}
