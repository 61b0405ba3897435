// test-permissions: --allow-read=cgroups/testdata
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import {
  type ContainerStatsTarget,
  nanoCores,
  readContainerStats,
  StatsCollector,
} from "./collector.ts";
import { cgroupDriver } from "./driver.ts";
import { type CgroupLayout, detectLayout } from "./layout.ts";
import { locateCgroup } from "./reader.ts";
import type { Clock } from "./types.ts";
import { CTR, SYSTEMD_PARENT, TESTDATA } from "./_test_fixtures.ts";

/** A clock that moves only when told. */
class FakeClock implements Clock {
  mono = 5_000_000_000n;
  wall = 1_700_000_000_000_000_000n;
  advance(ms: number): void {
    const ns = BigInt(ms) * 1_000_000n;
    this.mono += ns;
    this.wall += ns;
  }
  wallNs(): bigint {
    return this.wall;
  }
  monoNs(): bigint {
    return this.mono;
  }
}

const systemd = cgroupDriver("systemd");

function v2Layout(): Promise<CgroupLayout> {
  return detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/v2.txt`,
    fsRoot: `${TESTDATA}/tree/v2`,
  });
}

/**
 * The fixture files do not change, so a rising counter is two cgroups read under one id:
 * the container's (1.234567 s of CPU) and then the pod's (2.469134 s).
 */
async function targets(): Promise<{ first: ContainerStatsTarget; later: ContainerStatsTarget }> {
  const layout = await v2Layout();
  return {
    first: {
      id: "c1",
      cgroup: locateCgroup(layout, systemd.containerCgroupPath(SYSTEMD_PARENT, CTR)),
    },
    later: { id: "c1", cgroup: locateCgroup(layout, systemd.podCgroupPath(SYSTEMD_PARENT)) },
  };
}

Deno.test("nanoCores() is Δusage over Δtime in nano-cores", () => {
  assertEquals(
    nanoCores({ usage: 0n, mono: 0n }, { usage: 500_000_000n, mono: 1_000_000_000n }),
    500_000_000n,
  );
  assertEquals(
    nanoCores({ usage: 0n, mono: 0n }, { usage: 4_000_000_000n, mono: 2_000_000_000n }),
    2_000_000_000n,
  );
});

Deno.test("nanoCores() has no answer for no interval or a counter that went back", () => {
  assertEquals(nanoCores({ usage: 5n, mono: 10n }, { usage: 6n, mono: 10n }), undefined);
  assertEquals(nanoCores({ usage: 5n, mono: 10n }, { usage: 4n, mono: 20n }), undefined);
});

Deno.test("StatsCollector rates CPU between the last two samples, absent on the first", async () => {
  const clock = new FakeClock();
  const c = new StatsCollector({ clock });
  const { first, later } = await targets();
  const a = await c.container(first);
  assertEquals(a.cpu?.usageCoreNanoSeconds, 1_234_567_000n);
  assertEquals(a.cpu?.usageNanoCores, undefined);
  clock.advance(2000);
  const b = await c.container(later);
  assertEquals(b.cpu?.usageNanoCores, 617_283_500n); // 1.234567 s of CPU in 2 s
  assertEquals(b.cpu?.timestamp, clock.wall);
});

Deno.test("StatsCollector serves a sample younger than its TTL without reading again", async () => {
  const clock = new FakeClock();
  const c = new StatsCollector({ clock, cacheTtlMs: 1000 });
  const { first, later } = await targets();
  const a = await c.container(first);
  clock.advance(999);
  // Pointing the target elsewhere shows whether the files were read again.
  const cached = await c.container(later);
  assertEquals(cached.cpu, a.cpu);
  clock.advance(1);
  const fresh = await c.container(later);
  assertEquals(fresh.cpu?.usageCoreNanoSeconds, 2_469_134_000n);
  assertEquals(fresh.cpu?.usageNanoCores, 1_234_567_000n);
});

Deno.test("StatsCollector drops the rate base of a container it forgets", async () => {
  const clock = new FakeClock();
  const c = new StatsCollector({ clock });
  const { first, later } = await targets();
  await c.container(first);
  c.forget("c1");
  clock.advance(2000);
  assertEquals((await c.container(later)).cpu?.usageNanoCores, undefined);
});

Deno.test("StatsCollector: a vanished container is not-found alone and left out of a list", async () => {
  const c = new StatsCollector({ clock: new FakeClock() });
  const layout = await v2Layout();
  const gone: ContainerStatsTarget = {
    id: "gone",
    cgroup: locateCgroup(layout, systemd.containerCgroupPath(SYSTEMD_PARENT, "gone")),
  };
  const err = await assertRejects(() => c.container(gone), SauropodError);
  assertEquals(err.kind, "not-found");
  const { first } = await targets();
  const list = await c.containers([gone, first]);
  assertEquals(list.map((s) => s.id), ["c1"]);
});

Deno.test("StatsCollector reads a pod's totals and its containers", async () => {
  const c = new StatsCollector({ clock: new FakeClock() });
  const layout = await v2Layout();
  const { first } = await targets();
  const pod = await c.pod({
    id: "p1",
    cgroup: locateCgroup(layout, systemd.podCgroupPath(SYSTEMD_PARENT)),
    containers: [first],
  });
  assertEquals(pod.process?.processCount, 9n);
  assertEquals(pod.memory?.workingSetBytes, 80n << 20n);
  assertEquals(pod.containers.length, 1);
});

Deno.test("StatsCollector still lists a pod's containers when the pod cgroup is gone", async () => {
  const c = new StatsCollector({ clock: new FakeClock() });
  const layout = await v2Layout();
  const { first } = await targets();
  const pod = await c.pod({
    id: "p2",
    cgroup: locateCgroup(layout, "/kubepods.slice/kubepods-gone.slice"),
    containers: [first],
  });
  assertEquals(pod.cpu, undefined);
  assertEquals(pod.problems[0]?.kind, "missing");
  assertEquals(pod.containers.length, 1);
});

Deno.test("StatsCollector measures the writable layer, or says why it could not", async () => {
  const c = new StatsCollector({ clock: new FakeClock() });
  const { first } = await targets();
  const s = await c.container({
    ...first,
    writableLayer: { dir: `${TESTDATA}/mountinfo`, mountpoint: "/var/lib/sauropod" },
  });
  assert(s.writableLayer !== undefined);
  assertEquals(s.writableLayer.inodesUsed, 5n); // the directory and its four files
  assert(s.writableLayer.usedBytes > 0n);
  assertEquals(s.writableLayer.mountpoint, "/var/lib/sauropod");

  const missing = await c.container({ ...first, writableLayer: { dir: `${TESTDATA}/nope` } });
  assertEquals(missing.writableLayer, undefined);
  assertEquals(missing.problems.map((p) => [p.resource, p.kind]), [["writable-layer", "missing"]]);
  assertEquals(missing.cpu, s.cpu, "the cgroup part is still there");
});

Deno.test("readContainerStats() without a collector is a one-off read without a rate", async () => {
  const { first } = await targets();
  const s = await readContainerStats(first);
  assertEquals(s.cpu?.usageCoreNanoSeconds, 1_234_567_000n);
  assertEquals(s.cpu?.usageNanoCores, undefined);
});

Deno.test("background rounds fill the cache that calls are then answered from", async () => {
  const { first, later } = await targets();
  const layout = await v2Layout();
  const pod = locateCgroup(layout, systemd.podCgroupPath(SYSTEMD_PARENT));
  const c = new StatsCollector({ cacheTtlMs: 60_000, clock: new FakeClock() });
  c.startBackground(60_000, () => [{ id: "p1", cgroup: pod, containers: [first] }]);
  try {
    // The first round is due at once and reads synchronously: one timer turn is enough.
    await new Promise((r) => setTimeout(r, 50));
    // Asked about "c1" at another cgroup, the collector answers what the round read at the
    // container's: served from the round, not read now.
    const s = await c.container(later);
    assertEquals(s.cpu?.usageCoreNanoSeconds, 1_234_567_000n);
    assertEquals(c.metrics("c", "c1", later.cgroup).processes, 3n);
  } finally {
    c.stopBackground();
  }
});
