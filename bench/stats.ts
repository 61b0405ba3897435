/**
 * Summaries of benchmark samples: the percentiles the report prints and the ratio between
 * runtimes. Pure functions, so the table can be recomputed from the raw samples in the JSON.
 *
 * @module
 */

/** A summary of one runtime's samples for one figure. */
export interface Summary {
  /** Number of samples. */
  readonly n: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/**
 * The `p`-th percentile (0–100) of ascending `sorted` samples, interpolating linearly
 * between the two closest ranks (Hyndman & Fan type 7, numpy's and R's default), so small
 * sample counts do not snap p90/p99 to the maximum.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("percentile of no samples");
  if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is outside [0, 100]`);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (rank - lo);
}

/** Summarises `samples`; undefined when there are none. */
export function summarize(samples: readonly number[]): Summary | undefined {
  const finite = samples.filter((s) => Number.isFinite(s));
  if (finite.length === 0) return undefined;
  const sorted = [...finite].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    n: sorted.length,
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
  };
}

/** `a / b`, or undefined when either is missing or `b` is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a)) return undefined;
  return a / b;
}
