/**
 * Per-key serialisation: calls on one pod or container id run one after another, calls on
 * different ids run in parallel (the CRI's concurrency contract).
 *
 * @module
 */

/** A set of async mutexes keyed by string, created on demand and dropped when idle. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier call holding `key` has finished. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  /** Runs `fn` holding every key in `keys` (taken in sorted order, so no deadlock). */
  async runAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const step = (i: number): Promise<T> =>
      i === sorted.length ? fn() : this.run(sorted[i]!, () => step(i + 1));
    return await step(0);
  }

  /** Number of keys currently held or awaited (tests). */
  get size(): number {
    return this.#tails.size;
  }
}
