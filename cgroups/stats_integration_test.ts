/**
 * Stats from this machine's real cgroup v1 hierarchies: test cgroups at the root of each
 * hierarchy (`sauropod-test-<random>`), real processes moved in through cgroup.procs,
 * removed in `finally` whatever happens.
 */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { StatsCollector } from "./collector.ts";
import { detectLayout } from "./layout.ts";
import { createPodCgroup, removePodCgroup } from "./pod_cgroup.ts";
import { locateCgroup } from "./reader.ts";
import { readCgroupStats } from "./stats.ts";
import { setupStatsBench } from "./_test_stats_bench.ts";
import { createTestCgroups, named, skipV1Reason, testCgroupName, V1 } from "./_test_util.ts";

const CONTROLLERS = ["cpu", "cpuacct", "memory", "pids", "blkio"] as const;
const skip = skipV1Reason([...CONTROLLERS]);
const MiB = 1n << 20n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawns `args` and moves it into `dirs` before it does anything (it waits for stdin). */
async function startIn(
  dirs: Record<string, string>,
  script: string,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("busybox", {
    args: ["sh", "-c", `read go; ${script}`],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (const dir of Object.values(dirs)) {
    Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(child.pid));
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  return child;
}

Deno.test({
  name: named("real v1: a busy process shows CPU rising and a plausible nano-core rate", skip),
  ignore: skip !== undefined,
  async fn() {
    const cg = await createTestCgroups(CONTROLLERS);
    const children: Deno.ChildProcess[] = [];
    try {
      const layout = await detectLayout();
      const loc = locateCgroup(layout, `/${cg.name}`);
      assertEquals(loc.cpu?.dir, cg.dirs.cpuacct, "cpu time comes from the cpuacct hierarchy");
      children.push(await startIn(cg.dirs, "while :; do :; done"));
      // 24 MiB held by one process, then it sleeps.
      children.push(
        await startIn(
          cg.dirs,
          'exec busybox awk \'BEGIN { s = sprintf("%25165824s", ""); system("exec busybox sleep 600") }\'',
        ),
      );
      const collector = new StatsCollector({ cacheTtlMs: 0 });
      const target = { id: cg.name, cgroup: loc };
      const first = await collector.container(target);
      await sleep(500);
      const second = await collector.container(target);
      await sleep(500);
      const third = await collector.container(target);

      assert(first.cpu && second.cpu && third.cpu, JSON.stringify(third.problems));
      assert(second.cpu.usageCoreNanoSeconds > first.cpu.usageCoreNanoSeconds, "cpu did not rise");
      assert(third.cpu.usageCoreNanoSeconds > second.cpu.usageCoreNanoSeconds, "cpu did not rise");
      assert(second.cpu.timestamp > first.cpu.timestamp);
      assertEquals(first.cpu.usageNanoCores, undefined);
      const rate = third.cpu.usageNanoCores;
      assert(rate !== undefined, "no rate on the third sample");
      // A spinning shell uses some of a core; it cannot use more cores than there are.
      const cores = BigInt(navigator.hardwareConcurrency);
      assert(rate > 0n && rate <= cores * 1_050_000_000n, `implausible rate ${rate}`);

      const m = third.memory;
      assert(m, JSON.stringify(third.problems));
      assert(m.usageBytes >= 24n * MiB, `usage ${m.usageBytes}`);
      assert(m.rssBytes >= 20n * MiB, `rss ${m.rssBytes}`);
      assert(m.workingSetBytes <= m.usageBytes && m.workingSetBytes >= m.rssBytes / 2n);
      assertEquals(m.limitBytes, null, "no limit was set");
      assertEquals(m.availableBytes, undefined);
      assert(m.pageFaults > 0n);
      assert((third.process?.processCount ?? 0n) >= 3n, "sh, awk and sleep");
      assertEquals(third.problems, []);
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await c.status;
      }
      await cg.remove();
    }
  },
});

Deno.test({
  name: named("real v1: a memory limit shows as limit and available bytes", skip),
  ignore: skip !== undefined,
  async fn() {
    const cg = await createTestCgroups(["memory"]);
    try {
      Deno.writeTextFileSync(`${cg.dirs.memory}/memory.limit_in_bytes`, String(64n * MiB));
      const layout = await detectLayout();
      const s = readCgroupStats(locateCgroup(layout, `/${cg.name}`), { resources: ["memory"] });
      assertEquals(s.memory?.limitBytes, 64n * MiB);
      assertEquals(s.memory?.availableBytes, 64n * MiB - s.memory!.workingSetBytes);
    } finally {
      await cg.remove();
    }
  },
});

Deno.test({
  name: named("real v1: a removed cgroup reads as not-found, not a crash", skip),
  ignore: skip !== undefined,
  async fn() {
    const cg = await createTestCgroups(CONTROLLERS);
    try {
      const layout = await detectLayout();
      const loc = locateCgroup(layout, `/${cg.name}`);
      assertEquals(readCgroupStats(loc).problems, []);
      await cg.remove();
      const err = assertThrows(() => readCgroupStats(loc), SauropodError);
      assertEquals(err.kind, "not-found");
    } finally {
      await cg.remove();
    }
  },
});

Deno.test({
  name: named("createPodCgroup() creates only what is missing and removes only that", skip),
  ignore: skip !== undefined,
  async fn() {
    const top = testCgroupName();
    const layout = await detectLayout();
    // The "kubelet" already made the top level in the memory hierarchy: not ours to remove.
    Deno.mkdirSync(`${V1.memory}/${top}`);
    let owned: ReturnType<typeof createPodCgroup> | undefined;
    try {
      owned = createPodCgroup(layout, `/${top}/pod1`);
      assert(owned.created.includes(`${V1.cpu}/${top}`));
      assert(owned.created.includes(`${V1.cpu}/${top}/pod1`));
      assert(owned.created.includes(`${V1.memory}/${top}/pod1`));
      assert(!owned.created.includes(`${V1.memory}/${top}`), "the existing level is not ours");
      for (const d of owned.created) assert(Deno.statSync(d).isDirectory, d);

      // A container cgroup left behind (runc delete failed): removal refuses, naming it.
      Deno.mkdirSync(`${V1.pids}/${top}/pod1/ctr`);
      const err = assertThrows(() => removePodCgroup(owned!), SauropodError);
      assertEquals(err.kind, "failed-precondition");
      assert(err.message.includes(`${V1.pids}/${top}/pod1`), err.message);
      Deno.removeSync(`${V1.pids}/${top}/pod1/ctr`);

      removePodCgroup(owned);
      for (const d of owned.created) {
        assertThrows(() => Deno.statSync(d), Deno.errors.NotFound);
      }
      assert(Deno.statSync(`${V1.memory}/${top}`).isDirectory, "the kubelet's level stays");
      removePodCgroup(owned); // idempotent
    } finally {
      try {
        Deno.removeSync(`${V1.pids}/${top}/pod1/ctr`);
      } catch {
        // Not there.
      }
      if (owned) {
        try {
          removePodCgroup(owned);
        } catch {
          // Reported by the test already.
        }
      }
      Deno.removeSync(`${V1.memory}/${top}`);
    }
  },
});

Deno.test({
  name: named("setupStatsBench() reads N real container cgroups and removes them", skip),
  ignore: skip !== undefined,
  async fn() {
    const bench = await setupStatsBench(5);
    try {
      const cold = await bench.run();
      assertEquals(cold.map((s) => s.id), ["c0", "c1", "c2", "c3", "c4"]);
      for (const s of cold) assertEquals(s.problems, []);
      assertEquals((await bench.runWarm()).length, 5);
    } finally {
      await bench.cleanup();
    }
    assertEquals(
      [...Deno.readDirSync(V1.memory)].filter((e) => e.name.startsWith("sauropod-bench-")),
      [],
    );
  },
});
