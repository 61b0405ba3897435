// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { diskUsage, DiskUsageCache } from "./disk_usage.ts";
import type { Clock } from "./types.ts";

const MiB = 1 << 20;

/** A writable layer: a 1 MiB file, a hard link to it, an empty file, a subdirectory. */
function layer(): string {
  const dir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "sauropod-du-" });
  Deno.mkdirSync(`${dir}/etc`);
  Deno.writeFileSync(`${dir}/etc/big`, new Uint8Array(MiB).fill(7));
  Deno.linkSync(`${dir}/etc/big`, `${dir}/big-link`);
  Deno.writeFileSync(`${dir}/empty`, new Uint8Array());
  return dir;
}

Deno.test("diskUsage() counts allocated bytes and inodes, hard links once", async () => {
  const dir = layer();
  try {
    const u = await diskUsage(dir);
    assertEquals(u.inodesUsed, 4n); // dir, etc/, big (= big-link), empty
    assert(u.usedBytes >= BigInt(MiB), `${u.usedBytes} < 1 MiB`);
    assert(u.usedBytes < BigInt(MiB + 256 * 1024), `${u.usedBytes}: the link was counted twice?`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("diskUsage() of a missing directory is not-found", async () => {
  const err = await assertRejects(() => diskUsage("/tmp/sauropod-du-missing-x"), SauropodError);
  assertEquals(err.kind, "not-found");
});

Deno.test("DiskUsageCache serves a walk for its TTL and shares a walk in flight", async () => {
  let mono = 0n;
  const clock: Clock = { wallNs: () => mono, monoNs: () => mono };
  const cache = new DiskUsageCache({ ttlMs: 10_000, clock });
  const dir = layer();
  try {
    const [a, b] = await Promise.all([cache.usage(dir), cache.usage(dir)]);
    assertEquals(a, b);
    Deno.writeFileSync(`${dir}/more`, new Uint8Array(MiB));
    mono += 9_000_000_000n;
    assertEquals((await cache.usage(dir)).inodesUsed, 4n, "served from the cache");
    mono += 1_000_000_000n;
    assertEquals((await cache.usage(dir)).inodesUsed, 5n, "walked again after the TTL");
    Deno.writeFileSync(`${dir}/even-more`, new Uint8Array());
    cache.forget(dir);
    assertEquals((await cache.usage(dir)).inodesUsed, 6n, "walked again once forgotten");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
