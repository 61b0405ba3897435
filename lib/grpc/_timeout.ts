/**
 * The `grpc-timeout` header (grpc/grpc `doc/PROTOCOL-HTTP2.md`): at most 8 digits and a
 * unit, `H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds,
 * `n` nanoseconds.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 1e-3,
  n: 1e-6,
};

/** The timeout in milliseconds (possibly fractional), or undefined when malformed. */
export function parseTimeout(value: string): number | undefined {
  const m = /^([0-9]{1,8})([HMSmun])$/.exec(value);
  if (m === null) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Formats a timeout the way clients send it: the finest unit that fits in 8 digits. */
export function formatTimeout(ms: number): string {
  const ns = Math.max(0, Math.ceil(ms * 1e6));
  for (const [unit, per] of [["n", 1], ["u", 1e3], ["m", 1e6], ["S", 1e9], ["M", 6e10]] as const) {
    const v = Math.ceil(ns / per);
    if (v < 1e8) return `${v}${unit}`;
  }
  return `${Math.min(99_999_999, Math.ceil(ns / 3.6e12))}H`;
}
