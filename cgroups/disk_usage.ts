/**
 * Space and inodes used by a directory tree — a container's writable layer (its overlay
 * upper dir) — the way `du -x` counts: allocated blocks (st_blocks × 512), hard links once,
 * no crossing into other filesystems. The kubelet asks every 10 s; a walk of a large
 * layer is not free, so results are cached for a TTL and concurrent asks share one walk.
 *
 * @module
 */
import { notFound, wrap } from "../errors/mod.ts";
import { type Clock, systemClock } from "./types.ts";

/** The result of one walk. */
export interface DiskUsage {
  /** Bytes allocated. */
  readonly usedBytes: bigint;
  /** Distinct inodes, the root included. */
  readonly inodesUsed: bigint;
  /** When the walk finished, ns since the epoch. */
  readonly timestamp: bigint;
}

/** Entries walked between yields to the event loop, so a huge layer does not stall calls. */
const YIELD_EVERY = 2000;

/**
 * Walks `dir`. Entries vanishing mid-walk are skipped (the container is writing); the
 * root missing is not-found.
 */
export async function diskUsage(dir: string, clock: Clock = systemClock): Promise<DiskUsage> {
  let root: Deno.FileInfo;
  try {
    root = Deno.lstatSync(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw notFound(`directory ${dir} not found`);
    throw wrap(err, `cannot stat ${dir}`);
  }
  const dev = root.dev;
  let blocks = BigInt(root.blocks ?? 0);
  let inodes = 1n;
  const linked = new Set<string>();
  const stack: string[] = root.isDirectory ? [dir] : [];
  let walked = 0;
  while (stack.length > 0) {
    const current = stack.pop()!;
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync(current);
    } catch {
      continue; // removed or unreadable meanwhile
    }
    try {
      for (const e of entries) {
        const path = `${current}/${e.name}`;
        let info: Deno.FileInfo;
        try {
          info = Deno.lstatSync(path);
        } catch {
          continue;
        }
        if (info.dev !== dev) continue; // another filesystem mounted inside: du -x
        if ((info.nlink ?? 1) > 1 && !info.isDirectory) {
          const key = `${info.ino}`;
          if (linked.has(key)) continue;
          linked.add(key);
        }
        inodes++;
        blocks += BigInt(info.blocks ?? 0);
        if (info.isDirectory) stack.push(path);
        if (++walked % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
      }
    } catch {
      // The directory went away while being listed: count what was seen.
    }
  }
  return { usedBytes: blocks * 512n, inodesUsed: inodes, timestamp: clock.wallNs() };
}

/** Caches {@link diskUsage} per directory for a TTL and coalesces concurrent walks. */
export class DiskUsageCache {
  readonly #ttlNs: bigint;
  readonly #clock: Clock;
  readonly #done = new Map<string, { at: bigint; usage: DiskUsage }>();
  readonly #running = new Map<string, Promise<DiskUsage>>();

  /** `ttlMs`: how long a walk's result is served (default 30 s, three kubelet polls). */
  constructor(opts: { ttlMs?: number; clock?: Clock } = {}) {
    this.#ttlNs = BigInt(Math.round((opts.ttlMs ?? 30_000) * 1e6));
    this.#clock = opts.clock ?? systemClock;
  }

  /** The usage of `dir`, from the cache when fresh. */
  usage(dir: string): Promise<DiskUsage> {
    this.#sweep();
    const hit = this.#done.get(dir);
    if (hit && this.#clock.monoNs() - hit.at < this.#ttlNs) return Promise.resolve(hit.usage);
    const running = this.#running.get(dir);
    if (running) return running;
    const walk = diskUsage(dir, this.#clock).then(
      (usage) => {
        this.#done.set(dir, { at: this.#clock.monoNs(), usage });
        return usage;
      },
    ).finally(() => this.#running.delete(dir));
    this.#running.set(dir, walk);
    return walk;
  }

  /** Drops expired results now and then, so removed containers' dirs do not pile up. */
  #sweep(): void {
    if (this.#done.size < 64) return;
    const now = this.#clock.monoNs();
    for (const [dir, { at }] of this.#done) {
      if (now - at >= this.#ttlNs) this.#done.delete(dir);
    }
  }

  /** Drops the cached result of `dir` (its container was removed). */
  forget(dir: string): void {
    this.#done.delete(dir);
  }
}
