/**
 * Timing spans of one operation, for its log line: `mark(name)` records the milliseconds
 * since the previous mark (or since construction), `fields()` gives them rounded to 0.1 ms
 * with their total. Cheap enough to stay on every request.
 *
 * ```ts
 * const spans = new Spans();
 * await mount(); spans.mark("mountMs");
 * await write(); spans.mark("writeMs");
 * log.info("done", spans.fields());   // { mountMs: 3.2, writeMs: 1.1, totalMs: 4.3 }
 * ```
 *
 * @module
 */

/** Consecutive spans of one operation. */
export class Spans {
  readonly #t0: number;
  #last: number;
  readonly #spans: [string, number][] = [];

  /** Starts timing now. */
  constructor(now: number = performance.now()) {
    this.#t0 = now;
    this.#last = now;
  }

  /** Ends the span `name` now (a repeated name adds up). */
  mark(name: string, now: number = performance.now()): void {
    this.#spans.push([name, now - this.#last]);
    this.#last = now;
  }

  /** Every span and `totalMs`, in milliseconds rounded to 0.1. */
  fields(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.#spans) out[k] = (out[k] ?? 0) + v;
    out.totalMs = this.#last - this.#t0;
    for (const k of Object.keys(out)) out[k] = Math.round(out[k]! * 10) / 10;
    return out;
  }
}
