/**
 * The one clock of sauropod, in the agent and in every shim: wall-clock time in
 * nanoseconds (CRI timestamps are int64 ns), and its RFC 3339 form with nine fraction
 * digits. A container's started-at and finished-at both come from its shim's reading of it,
 * so finished never precedes started, whatever NTP does to the agent meanwhile.
 *
 * Deno has no nanosecond wall clock: `performance.timeOrigin + performance.now()` gives
 * microseconds, anchored to the wall clock and re-anchored when the two drift apart (NTP
 * steps), and readings never go backwards within the process.
 *
 * @module
 */

const NS_PER_MS = 1_000_000n;
/** Re-anchor to `Date.now()` when the monotonic estimate strays further than this. */
const MAX_DRIFT_MS = 100;

let offsetMs = 0;
let last = 0n;

/** Nanoseconds since the Unix epoch, never less than the previous reading. */
export function nowNs(): bigint {
  const wall = Date.now();
  let ms = performance.timeOrigin + performance.now() + offsetMs;
  if (Math.abs(ms - wall) > MAX_DRIFT_MS) {
    offsetMs += wall - ms;
    ms = wall;
  }
  const whole = Math.floor(ms);
  let ns = BigInt(whole) * NS_PER_MS + BigInt(Math.round((ms - whole) * 1e6));
  if (ns <= last) ns = last + 1n;
  last = ns;
  return ns;
}

/** `2016-10-06T00:17:09.669794202Z`: UTC, always nine fraction digits. */
export function formatRfc3339Nano(ns: bigint): string {
  const ms = ns / NS_PER_MS;
  const iso = new Date(Number(ms)).toISOString(); // 2016-10-06T00:17:09.669Z
  const frac = (((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString();
  return `${iso.slice(0, 19)}.${frac.padStart(9, "0")}Z`;
}
