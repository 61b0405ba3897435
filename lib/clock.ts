/**
 * The agent's wall clock in nanoseconds (CRI timestamps are int64 ns), in a module of its
 * own so that the shim client can use it without the runtime's ids.
 *
 * @module
 */

/** Wall-clock time in nanoseconds since the epoch. */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}
