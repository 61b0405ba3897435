/**
 * A `dev_t` (`st_rdev`) split into major and minor numbers, as glibc's `gnu_dev_major` and
 * `gnu_dev_minor` do (12+32 bits of major, 8+24 of minor).
 *
 * @module
 */

/** The major and minor numbers of `rdev`. */
export function deviceNumbers(rdev: number | bigint): { major: number; minor: number } {
  const r = BigInt(rdev);
  return {
    major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & 0xfffff000n)),
    minor: Number((r & 0xffn) | ((r >> 12n) & 0xffffff00n)),
  };
}
