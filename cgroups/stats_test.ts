// test-permissions: --allow-read=cgroups/testdata
/**
 * One suite, three fixture trees: pure v1 (cgroupfs driver), this machine's hybrid layout
 * (cgroupfs) and a systemd node's pure v2 (systemd driver). After normalisation every
 * tree must read the same numbers.
 */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { cgroupDriver, type CgroupDriverName } from "./driver.ts";
import { type CgroupLayout, detectLayout } from "./layout.ts";
import { locateCgroup } from "./reader.ts";
import { readCgroupStats } from "./stats.ts";
import type { Clock } from "./types.ts";
import { BROKEN, CGROUPFS_PARENT, CTR, SYSTEMD_PARENT, TESTDATA } from "./_test_fixtures.ts";

interface Flavour {
  name: string;
  mountinfo: string;
  driver: CgroupDriverName;
  parent: string;
  /** Whether the tree has PSI files for the cgroups (v2, and hybrid's unified mount). */
  psi: boolean;
}

const FLAVOURS: Flavour[] = [
  { name: "v1", mountinfo: "v1.txt", driver: "cgroupfs", parent: CGROUPFS_PARENT, psi: false },
  {
    name: "hybrid",
    mountinfo: "hybrid.txt",
    driver: "cgroupfs",
    parent: CGROUPFS_PARENT,
    psi: true,
  },
  { name: "v2", mountinfo: "v2.txt", driver: "systemd", parent: SYSTEMD_PARENT, psi: true },
];

const MiB = 1n << 20n;

/** A clock that ticks one millisecond per read, so each timestamp is distinct. */
function tickingClock(): Clock {
  let t = 1_700_000_000_000_000_000n;
  return {
    wallNs: () => (t += 1_000_000n),
    monoNs: () => t,
  };
}

function layoutOf(f: Flavour): Promise<CgroupLayout> {
  return detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/${f.mountinfo}`,
    fsRoot: `${TESTDATA}/tree/${f.name}`,
  });
}

/** The fixture's cpu.pressure, totals turned from µs into ns. */
const CPU_PSI = {
  some: { avg10: 1.5, avg60: 0.75, avg300: 0.25, total: 123_456_000n },
  full: { avg10: 0.5, avg60: 0.2, avg300: 0.05, total: 45_678_000n },
};

for (const f of FLAVOURS) {
  Deno.test(`readCgroupStats() [${f.name}] normalises a container's cpu, memory, swap and pids`, async () => {
    const layout = await layoutOf(f);
    const driver = cgroupDriver(f.driver);
    const loc = locateCgroup(layout, driver.containerCgroupPath(f.parent, CTR));
    const s = readCgroupStats(loc, { clock: tickingClock() });
    assertEquals(s.problems, []);
    assertEquals(s.cpu?.usageCoreNanoSeconds, 1_234_567_000n);
    assertEquals(s.cpu?.usageNanoCores, undefined, "a single read has no rate");
    assertEquals(s.memory?.usageBytes, 50n * MiB);
    assertEquals(s.memory?.workingSetBytes, 40n * MiB);
    assertEquals(s.memory?.rssBytes, 30n * MiB);
    assertEquals(s.memory?.pageFaults, 12345n);
    assertEquals(s.memory?.majorPageFaults, 67n);
    assertEquals(s.memory?.limitBytes, 128n * MiB);
    assertEquals(s.memory?.availableBytes, 88n * MiB);
    assertEquals(s.swap?.swapUsageBytes, 0n);
    assertEquals(s.swap?.swapAvailableBytes, 0n);
    assertEquals(s.process?.processCount, 7n);
    assertEquals(
      [s.io?.readBytes, s.io?.writeBytes, s.io?.readOps, s.io?.writeOps],
      [4_096_000n, 8_192_000n, 100n, 200n],
      "io from blkio (v1) or io.stat (v2)",
    );
    assertEquals(s.io?.psi?.some.total !== undefined, f.psi);
    assertEquals(s.cpu?.psi, f.psi ? CPU_PSI : undefined);
    assertEquals(s.memory?.psi?.some.total, f.psi ? 0n : undefined);
  });

  Deno.test(`readCgroupStats() [${f.name}] reads a pod cgroup's totals, unlimited`, async () => {
    const layout = await layoutOf(f);
    const loc = locateCgroup(layout, cgroupDriver(f.driver).podCgroupPath(f.parent));
    const s = readCgroupStats(loc, { clock: tickingClock() });
    assertEquals(s.problems, []);
    assertEquals(s.cpu?.usageCoreNanoSeconds, 2_469_134_000n);
    assertEquals(s.memory?.workingSetBytes, 80n * MiB);
    assertEquals(s.memory?.limitBytes, null);
    assertEquals(s.memory?.availableBytes, undefined);
    assertEquals(s.swap?.swapAvailableBytes, undefined);
    assertEquals(s.process?.processCount, 9n);
  });

  Deno.test(`readCgroupStats() [${f.name}] sums block I/O over devices when asked`, async () => {
    const layout = await layoutOf(f);
    const loc = locateCgroup(layout, cgroupDriver(f.driver).containerCgroupPath(f.parent, CTR));
    const s = readCgroupStats(loc, { resources: ["io"], clock: tickingClock() });
    assertEquals(s.problems, []);
    assertEquals(
      { r: s.io?.readBytes, w: s.io?.writeBytes, ro: s.io?.readOps, wo: s.io?.writeOps },
      { r: 4096000n, w: 8192000n, ro: 100n, wo: 200n },
    );
    assertEquals(s.cpu, undefined);
    assertEquals(s.memory, undefined);
  });

  Deno.test(`readCgroupStats() [${f.name}] stamps each resource when it is read`, async () => {
    const layout = await layoutOf(f);
    const loc = locateCgroup(layout, cgroupDriver(f.driver).containerCgroupPath(f.parent, CTR));
    const s = readCgroupStats(loc, { clock: tickingClock() });
    assert(s.cpu && s.memory && s.process);
    assert(s.cpu.timestamp < s.memory.timestamp && s.memory.timestamp < s.process.timestamp);
    assert(s.cpuMonoNs !== undefined);
  });

  Deno.test(`readCgroupStats() [${f.name}] answers with what it has for a broken cgroup`, async () => {
    const layout = await layoutOf(f);
    const loc = locateCgroup(layout, cgroupDriver(f.driver).containerCgroupPath(f.parent, BROKEN));
    const s = readCgroupStats(loc, { resources: ["cpu", "memory", "pids"] });
    assertEquals(s.cpu, undefined);
    assertEquals(s.memory, undefined);
    assertEquals(s.process?.processCount, 3n);
    const byResource = new Map(s.problems.map((p) => [p.resource, p]));
    assertEquals(byResource.get("cpu")?.kind, "missing");
    assertEquals(byResource.get("memory")?.kind, "error");
    assert(
      byResource.get("memory")!.message.includes("memory.stat"),
      byResource.get("memory")!.message,
    );
  });

  Deno.test(`readCgroupStats() [${f.name}] is not-found for a vanished cgroup`, async () => {
    const layout = await layoutOf(f);
    const loc = locateCgroup(
      layout,
      cgroupDriver(f.driver).containerCgroupPath(f.parent, "c0ffee"),
    );
    const err = assertThrows(() => readCgroupStats(loc), SauropodError);
    assertEquals(err.kind, "not-found");
    assert(err.message.includes("c0ffee"), err.message);
  });
}

Deno.test("readCgroupStats() reports a controller that is not mounted as a missing resource", async () => {
  const layout = await detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/hybrid.txt`,
    fsRoot: `${TESTDATA}/tree/hybrid`,
  });
  const { pids: _, ...noPids } = locateCgroup(
    layout,
    cgroupDriver("cgroupfs").containerCgroupPath(CGROUPFS_PARENT, CTR),
  );
  const s = readCgroupStats(noPids, { resources: ["cpu", "pids"] });
  assertEquals(s.cpu?.usageCoreNanoSeconds, 1_234_567_000n);
  assertEquals(s.problems.map((p) => [p.resource, p.kind]), [["pids", "missing"]]);
});

Deno.test("locateCgroup() reads cpu from cpuacct on v1 and psi from the unified mount on hybrid", async () => {
  const layout = await detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/hybrid.txt`,
    fsRoot: `${TESTDATA}/tree/hybrid`,
  });
  const loc = locateCgroup(layout, "/a/b");
  assertEquals(loc.cpu, { version: 1, dir: `${TESTDATA}/tree/hybrid/sys/fs/cgroup/cpuacct/a/b` });
  assertEquals(loc.io, { version: 1, dir: `${TESTDATA}/tree/hybrid/sys/fs/cgroup/blkio/a/b` });
  assertEquals(loc.psi, `${TESTDATA}/tree/hybrid/sys/fs/cgroup/unified/a/b`);
});
