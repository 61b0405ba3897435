/**
 * A per-connection budget of events per interval: how the server caps stream resets
 * (CVE-2023-44487, "rapid reset": a client opening and cancelling streams as fast as it
 * can costs the server work per stream while never exceeding the concurrency limit).
 *
 * @module
 */

/** Counts events in fixed windows of `intervalMs`; the clock is injectable for tests. */
export class Budget {
  readonly #max: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #windowStart: number;
  #count = 0;

  /** Allows `max` events per `intervalMs` milliseconds. */
  constructor(
    max: number,
    intervalMs: number,
    now: () => number = performance.now.bind(performance),
  ) {
    this.#max = max;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#windowStart = now();
  }

  /** Records one event; false once this window's budget is spent. */
  take(): boolean {
    const t = this.#now();
    if (t - this.#windowStart >= this.#intervalMs) {
      this.#windowStart = t;
      this.#count = 0;
    }
    this.#count++;
    return this.#count <= this.#max;
  }
}
