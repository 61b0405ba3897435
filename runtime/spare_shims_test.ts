// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals } from "../testing/assert.ts";
import type { RuntimeCore } from "./core.ts";
import {
  BURST_WINDOW_MS,
  POOL,
  POOL_MAX,
  poolKey,
  refillPool,
  spareForPod,
  stopPoolTimers,
} from "./spare_shims.ts";

/** The spare keys a fake shim port holds, as the pool policy drives it. */
class Spares {
  readonly keys = new Set<string>();
  started = 0;
  prespawn(key: string): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.started++;
  }
  moveSpare(from: string, to: string, logDir: string | undefined): boolean {
    if (!this.keys.has(from) || this.keys.has(to)) return false;
    if (!logDir?.startsWith("/var/log/pods/")) return false;
    this.keys.delete(from);
    this.keys.add(to);
    return true;
  }
  dropSpare(key: string): Promise<void> {
    this.keys.delete(key);
    return Promise.resolve();
  }
  pool(): string[] {
    return [...this.keys].filter((k) => k.startsWith(POOL)).sort();
  }
}

function fakeCore(spares: Spares): RuntimeCore {
  return {
    config: {
      root: "/var/lib/sauropod",
      runtime: { podLogsDir: "/var/log/pods", binary: "runc", root: "/run/runc" },
    },
    deps: { shims: spares },
  } as unknown as RuntimeCore;
}

Deno.test("spare pool: a lone pod takes the pool's spare and it is replaced at once", () => {
  const spares = new Spares();
  const core = fakeCore(spares);
  try {
    refillPool(core);
    assertEquals(spares.pool(), [POOL]);
    spareForPod(core, "pod1", "/var/log/pods/ns_a_1", 0);
    assertEquals(spares.keys.has("pod1"), true);
    assertEquals(spares.pool(), [POOL]);
    assertEquals(spares.started, 2);
  } finally {
    stopPoolTimers(core);
  }
});

Deno.test("spare pool: a burst is served from the pool, then the pool grows to its size, bounded", async () => {
  const spares = new Spares();
  const core = fakeCore(spares);
  try {
    refillPool(core);
    // A burst of POOL_MAX + 2 pods: the first takes the spare; during the burst nothing
    // is refilled, so the others get spares of their own.
    for (let i = 0; i < POOL_MAX + 2; i++) spareForPod(core, `p${i}`, "/var/log/pods/x", i);
    assertEquals(spares.pool(), []);
    assertEquals(spares.started, 1 + POOL_MAX + 1);
    // GROW_DELAY_MS after the burst: the pool holds POOL_MAX spares.
    await new Promise((r) => setTimeout(r, 1_200));
    assertEquals(spares.pool().length, POOL_MAX);
    // The next burst is served from the pool: its first pod looks like a lone one (its
    // spare is replaced at once), the rest start no shim of their own.
    const before = spares.started;
    const t = 10 * BURST_WINDOW_MS;
    for (let i = 0; i < POOL_MAX; i++) spareForPod(core, `q${i}`, "/var/log/pods/x", t + i);
    assertEquals(spares.started, before + 1);
    assertEquals(spares.pool().length, 1);
    assertEquals(poolKey(0), POOL);
  } finally {
    stopPoolTimers(core);
  }
});

Deno.test("spare pool: a pod logging outside the pod log root gets its own spare", () => {
  const spares = new Spares();
  const core = fakeCore(spares);
  try {
    refillPool(core);
    spareForPod(core, "pod1", "/elsewhere/logs", 0);
    assertEquals(spares.pool(), [POOL]);
    assertEquals(spares.keys.has("pod1"), true);
  } finally {
    stopPoolTimers(core);
  }
});
