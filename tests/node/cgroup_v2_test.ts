/**
 * The cgroupfs driver on a real cgroup v2 node: the pod cgroup under the kubelet's
 * cgroupfs name, limits landing in the container's cgroup, stats read from it (CPU rising,
 * a working set), pod totals, the CRI metrics (CFS throttling, memory, network; PSI where
 * the kernel keeps it) with IoUsage and default_interface, a container over `memory.max`
 * reported OOMKilled from `memory.events`, an agent restart that keeps all of it, and nothing
 * left once the pod is removed.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { ContainerState } from "../../api/gen/api.ts";
import { CriClient } from "../harness/cri_client.ts";
import { containerConfig, eventually, leftovers, NOTHING, podConfig } from "../harness/pods.ts";
import { assertStatsMatchKernel } from "./_checks.ts";
import { nodeEnv } from "./_env.ts";
import {
  alive,
  cgroupExists,
  cgroupKeyed,
  cgroupOf,
  cgroupValue,
  onNode,
  shimLog,
  sleep,
  step,
} from "./_node.ts";

const MiB = 1n << 20n;

Deno.test(onNode(
  "cgroupfs driver on cgroup v2: limits, stats, pod totals, OOMKilled, restart",
  "node",
  async (t) => {
    await using env = await nodeEnv({ driver: "cgroupfs" });
    const { agent, images, logRoot } = env;
    let client = env.client;
    const pod = podConfig(logRoot, "v2");
    // The kubelet's cgroupfs name of a burstable pod.
    const parent = `/kubepods/burstable/pod${pod.metadata!.uid}`;
    pod.linux = { ...pod.linux, cgroupParent: parent };
    let podId = "";
    let busy = "";
    let busyPid = 0;
    let usage = 0n;
    let oom = "";
    const restarted: CriClient[] = [];
    try {
      await step(t, "RunPodSandbox creates the pod cgroup under the kubelet's name", async () => {
        await client.image.pullImage({ image: { image: images.busybox.ref } });
        podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
        assert(await cgroupExists(parent), `${parent} exists`);
        const delegated = await cgroupValue(parent, "cgroup.subtree_control");
        for (const c of ["memory", "pids"]) {
          assert(delegated.split(" ").includes(c), `${parent} delegates ${c}: "${delegated}"`);
        }
      });

      await step(t, "a busy container's limits are in its cgroup and its CPU rises", async () => {
        busy = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("spin", images.busybox.ref, ["sh", "-c", "while :; do :; done"], {
            linux: {
              resources: {
                memoryLimitInBytes: 64n * MiB,
                cpuPeriod: 100_000n,
                cpuQuota: 50_000n,
              },
            },
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: busy });
        busyPid = Number(
          (await Deno.readTextFile(`${agent.state}/shims/${busy}/init.pid`)).trim(),
        );
        const cg = `${parent}/${busy}`;
        assertEquals(await cgroupOf(busyPid), cg, "the container's process is in <parent>/<id>");
        assertEquals(await cgroupValue(cg, "memory.max"), String(64n * MiB));
        assertEquals(await cgroupValue(cg, "cpu.max"), "50000 100000");

        const first = (await client.runtime.containerStats({ containerId: busy })).stats!;
        await sleep(2000);
        const second = (await client.runtime.containerStats({ containerId: busy })).stats!;
        const kernel = (await cgroupKeyed(cg, "cpu.stat")).get("usage_usec")! * 1000n;
        const u1 = first.cpu!.usageCoreNanoSeconds!.value;
        const u2 = second.cpu!.usageCoreNanoSeconds!.value;
        assert(u2 > u1, `cpu usage rises (${u1} → ${u2})`);
        assert(u2 <= kernel, `reported usage ${u2} is ${cg}'s, read before the kernel's ${kernel}`);
        usage = u2;
        const ws = second.memory?.workingSetBytes?.value ?? 0n;
        assert(ws > 0n && ws <= 64n * MiB, `working set ${ws} within the 64 MiB limit`);
        await assertStatsMatchKernel(second, cg, 64n * MiB);
        assertEquals(second.attributes?.id, busy);
      });

      await step(t, "ListPodSandboxStats totals the pod cgroup", async () => {
        const { stats } = await client.runtime.listPodSandboxStats({ filter: { id: podId } });
        assertEquals(stats.length, 1);
        const linux = stats[0]!.linux!;
        const podCpu = linux.cpu?.usageCoreNanoSeconds?.value ?? 0n;
        assert(podCpu >= usage, `pod cpu ${podCpu} covers the container's ${usage}`);
        assert((linux.memory?.workingSetBytes?.value ?? 0n) > 0n, "pod working set");
        assert((linux.process?.processCount?.value ?? 0n) >= 1n, "pod process count");
        assertEquals(linux.containers.map((c) => c.attributes?.id), [busy]);
        assert(linux.network?.interfaces.some((i) => i.name === "eth0"), "the pod's eth0");
      });

      await step(t, "CRI metrics, IoUsage and default_interface read from cgroup v2", async () => {
        const { descriptors } = await client.runtime.listMetricDescriptors({});
        const keys = new Map(descriptors.map((d) => [d.name, d.labelKeys]));
        assert(!keys.has("container_memory_failcnt"), "no failcnt on v2");
        const { podMetrics } = await client.runtime.listPodSandboxMetrics({});
        const pm = podMetrics.find((p) => p.podSandboxId === podId)!;
        const ctr = pm.containerMetrics.find((c) => c.containerId === busy)!.metrics;
        const value = (name: string) => ctr.find((m) => m.name === name)?.value?.value;
        for (const m of [...pm.metrics, ...ctr]) {
          assertEquals(m.labelValues.length, keys.get(m.name)?.length, `labels of ${m.name}`);
        }
        // cpu.max 50000/100000 throttles the busy loop: the kernel counted periods.
        const cg = `${parent}/${busy}`;
        const cpuStat = await cgroupKeyed(cg, "cpu.stat");
        const throttled = value("container_cpu_cfs_throttled_periods_total") ?? 0n;
        assert(throttled > 0n, `throttled periods ${throttled}`);
        assert(throttled <= cpuStat.get("nr_throttled")!, "read from cpu.stat");
        assert((value("container_cpu_user_seconds_total") ?? -1n) >= 0n, "user seconds");
        assertEquals(value("container_spec_memory_limit_bytes"), 64n * MiB);
        assert((value("container_memory_working_set_bytes") ?? 0n) > 0n, "working set");
        assertEquals(value("container_oom_events_total"), 0n);
        for (const r of ["cpu", "memory", "io"]) {
          const name = `container_pressure_${r}_waiting_seconds_total`;
          assertEquals(ctr.some((m) => m.name === name), keys.has(name), name);
        }
        assert(
          pm.metrics.some((m) =>
            m.name === "container_network_receive_bytes_total" && m.labelValues.at(-1) === "eth0"
          ),
          "pod network series",
        );
        const cs = (await client.runtime.containerStats({ containerId: busy })).stats!;
        assert((cs.io?.timestamp ?? 0n) > 0n, "IoUsage from io.stat");
        const ps = (await client.runtime.podSandboxStats({ podSandboxId: podId })).stats!;
        assertEquals(ps.linux?.network?.defaultInterface?.name, "eth0");
      });

      await step(t, "a container over its 32 MiB memory.max is OOMKilled with 137", async () => {
        oom = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("hog", images.busybox.ref, [
            "sh",
            "-c",
            "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
          ], {
            linux: {
              resources: { memoryLimitInBytes: 32n * MiB, memorySwapLimitInBytes: 32n * MiB },
            },
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: oom });
        const st = await eventually("the hog to exit", async () => {
          const s = (await client.runtime.containerStatus({ containerId: oom })).status!;
          return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
        }, 120_000);
        assertEquals(
          [st.reason, st.exitCode],
          ["OOMKilled", 137],
          await shimLog(agent.state, oom),
        );
        const events = await cgroupKeyed(`${parent}/${oom}`, "memory.events");
        assert(
          (events.get("oom_kill") ?? 0n) >= 1n,
          "the kernel counted the kill in memory.events",
        );
      });

      await step(t, "an image volume on Linux 6.1: read-only, and a sub path alone", async () => {
        // The mount path of image volumes (openat2, open_tree, move_mount) on the nodes'
        // kernel; the host tier runs the rest (tests/image_volumes_test.ts).
        const vol = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("vol", images.busybox.ref, ["sleep", "1000"], {
            mounts: [
              { containerPath: "/vol", image: { image: images.busybox.ref }, readonly: true },
              {
                containerPath: "/sub",
                image: { image: images.busybox.ref },
                imageSubPath: "etc",
                readonly: true,
              },
            ],
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: vol });
        const r = await client.runtime.execSync({
          containerId: vol,
          cmd: [
            "sh",
            "-c",
            "cat /sub/os-release; /vol/bin/busybox echo EXEC; touch /vol/x || echo RO",
          ],
          timeout: 60,
        });
        const out = new TextDecoder().decode(r.stdout);
        assert(out.includes("ID=sauropod-test") && out.includes("EXEC\nRO"), out);
        await client.runtime.removeContainer({ containerId: vol });
      });

      await step(
        t,
        "after an agent restart the container runs on, stats and OOMKilled kept",
        async () => {
          client.close();
          assertEquals((await agent.stop("SIGTERM")).code, 0, agent.tail());
          await agent.launch();
          client = new CriClient(agent.socket);
          restarted.push(client);
          assert(await alive(busyPid), "the busy container's process survived the restart");
          const st = (await client.runtime.containerStatus({ containerId: busy })).status!;
          assertEquals(st.state, ContainerState.CONTAINER_RUNNING);
          const after = (await client.runtime.containerStats({ containerId: busy })).stats!;
          const u = after.cpu!.usageCoreNanoSeconds!.value;
          assert(u > usage, `cpu still read from the cgroup after the restart (${usage} → ${u})`);
          const o = (await client.runtime.containerStatus({ containerId: oom })).status!;
          assertEquals([o.state, o.reason, o.exitCode], [
            ContainerState.CONTAINER_EXITED,
            "OOMKilled",
            137,
          ]);
        },
      );

      await step(t, "RemovePodSandbox removes the container and pod cgroups", async () => {
        await client.runtime.removePodSandbox({ podSandboxId: podId });
        podId = "";
        for (const cg of [`${parent}/${busy}`, `${parent}/${oom}`, parent, "/kubepods"]) {
          assert(!(await cgroupExists(cg)), `${cg} is gone`);
        }
        assertEquals(await leftovers(agent), NOTHING);
      });
    } finally {
      if (podId) await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
      for (const c of restarted) c.close();
    }
  },
));
