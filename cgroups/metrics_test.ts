// test-permissions: --allow-read=cgroups/testdata
/**
 * The metric counters on the three fixture trees (pure v1, this machine's hybrid layout,
 * pure v2 under systemd): each version's files land in the same fields, and what a version
 * lacks (failcnt and max usage on v2 without memory.peak, a broken cgroup's parts) is left
 * out rather than reported as 0.
 */
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { cgroupDriver, type CgroupDriverName } from "./driver.ts";
import { detectLayout } from "./layout.ts";
import { blockDeviceName, kernelHasPsi, readCgroupMetrics } from "./metrics.ts";
import { locateCgroup } from "./reader.ts";
import { BROKEN, CGROUPFS_PARENT, CTR, SYSTEMD_PARENT, TESTDATA } from "./_test_fixtures.ts";

interface Flavour {
  name: "v1" | "hybrid" | "v2";
  mountinfo: string;
  driver: CgroupDriverName;
  parent: string;
}

const FLAVOURS: Flavour[] = [
  { name: "v1", mountinfo: "v1.txt", driver: "cgroupfs", parent: CGROUPFS_PARENT },
  { name: "hybrid", mountinfo: "hybrid.txt", driver: "cgroupfs", parent: CGROUPFS_PARENT },
  { name: "v2", mountinfo: "v2.txt", driver: "systemd", parent: SYSTEMD_PARENT },
];

async function location(f: Flavour, id: string) {
  const layout = await detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/${f.mountinfo}`,
    fsRoot: `${TESTDATA}/tree/${f.name}`,
  });
  return locateCgroup(layout, cgroupDriver(f.driver).containerCgroupPath(f.parent, id));
}

const MiB = 1n << 20n;

for (const f of FLAVOURS) {
  Deno.test(`readCgroupMetrics() [${f.name}] reads the cAdvisor counters of a container`, async () => {
    const m = readCgroupMetrics(await location(f, CTR), (d) => d);
    const v2 = f.name === "v2";
    // v1 cpuacct.stat counts 10 ms ticks (82, 41), v2 cpu.stat µs; the hybrid node has
    // cpuacct and cpu on v1, so both come from there.
    assertEquals(m.cpu?.userNs, v2 ? 823_044_000n : 820_000_000n);
    assertEquals(m.cpu?.systemNs, v2 ? 411_522_000n : 410_000_000n);
    assertEquals([m.cpu?.periods, m.cpu?.throttledPeriods, m.cpu?.throttledNs], [0n, 0n, 0n]);
    assertEquals(m.memory?.rssBytes, 30n * MiB);
    assertEquals(m.memory?.inactiveFileBytes, 10n * MiB);
    assertEquals(m.memory?.limitBytes, 128n * MiB);
    assertEquals(m.memory?.cacheBytes, v2 ? 18_954_240n : 20n * MiB);
    assertEquals(m.memory?.mappedFileBytes, v2 ? 2_369_280n : 2_621_440n);
    assertEquals(m.memory?.kernelBytes, v2 ? 1_183_744n : undefined);
    assertEquals(m.memory?.maxUsageBytes, v2 ? undefined : 60_817_408n);
    assertEquals(m.memory?.failcnt, v2 ? undefined : 3n, "failcnt is v1 only");
    assertEquals([m.memory?.pgfault, m.memory?.hierarchyPgfault], [12345n, 12345n]);
    assertEquals([m.memory?.pgmajfault, m.memory?.hierarchyPgmajfault], [67n, 67n]);
    assertEquals(m.oomKills, 0n);
    assertEquals(m.io, [{
      device: "8:0",
      readBytes: 4_096_000n,
      writeBytes: 8_192_000n,
      reads: 100n,
      writes: 200n,
    }]);
    assertEquals(m.processes, 3n);
    assertEquals(m.threads, 7n);
    assertEquals(m.threadsMax, undefined, "pids.max 'max' is no limit");
  });

  Deno.test(`readCgroupMetrics() [${f.name}] counts a pod's processes in its subtree`, async () => {
    const layout = await detectLayout({
      mountinfo: `${TESTDATA}/mountinfo/${f.mountinfo}`,
      fsRoot: `${TESTDATA}/tree/${f.name}`,
    });
    const pod = locateCgroup(layout, cgroupDriver(f.driver).podCgroupPath(f.parent));
    // None in the pod cgroup itself, three in the container's, none readable in the broken one.
    assertEquals(readCgroupMetrics(pod).processes, 3n);
  });

  Deno.test(`readCgroupMetrics() [${f.name}] leaves out what a broken cgroup cannot give`, async () => {
    const m = readCgroupMetrics(await location(f, BROKEN));
    assertEquals(m.memory, undefined, "garbage memory.stat");
    assertEquals(m.oomKills, undefined);
  });

  Deno.test(`readCgroupMetrics() [${f.name}] is not-found for a cgroup that is gone`, async () => {
    const gone = await location(f, "9".repeat(64));
    const err = assertThrows(() => readCgroupMetrics(gone), SauropodError);
    assertEquals(err.kind, "not-found");
  });
}

Deno.test("kernelHasPsi() is false where /proc has no pressure directory", () => {
  assertEquals(kernelHasPsi(`${TESTDATA}/nowhere`), false);
});

Deno.test("blockDeviceName() keeps MAJ:MIN when /sys cannot tell the device", () => {
  assertEquals(blockDeviceName("259:7", `${TESTDATA}/nowhere`), "259:7");
  assertEquals(blockDeviceName("nonsense", `${TESTDATA}/nowhere`), "nonsense");
});
