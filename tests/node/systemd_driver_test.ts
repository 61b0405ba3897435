/**
 * The systemd cgroup driver on a real systemd node, as a kubelet with `cgroupDriver:
 * systemd` drives it: kubepods slices made the kubelet's way, the pod's `cgroup_parent` in
 * the kubelet's expanded form, each container in a `cri-sauropod-<id>.scope` under the pod
 * slice (runc `--systemd-cgroup`), limits and stats from the scope, pod totals from the
 * slice, an OOM kill still reported when systemd has already collected the container's
 * scope (the race containerd's CI skips the critest spec for), an agent restart, and no
 * scope left once the pod is removed.
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
  shimPid,
  sleep,
  step,
  unitProps,
} from "./_node.ts";
import { kubeletSlices } from "./_slices.ts";

const MiB = 1n << 20n;

Deno.test(onNode(
  "systemd cgroup driver: slices, scopes, stats, OOMKilled after systemd collects the scope, restart",
  "disposable",
  async (t) => {
    const uid = crypto.randomUUID();
    // Declared before the agent, so it is disposed after it: pods go before their slices.
    await using slices = await kubeletSlices(uid);
    await using env = await nodeEnv({ driver: "systemd" });
    const { agent, images, logRoot } = env;
    let client = env.client;
    const pod = podConfig(logRoot, "sd");
    pod.metadata = { ...pod.metadata, uid };
    pod.linux = { ...pod.linux, cgroupParent: slices.cgroupParent };
    const scopeOf = (id: string) => `cri-sauropod-${id}.scope`;
    const cgroupOfScope = (id: string) => `${slices.cgroupParent}/${scopeOf(id)}`;
    let podId = "";
    let busy = "";
    let busyPid = 0;
    let usage = 0n;
    let oom = "";
    const restarted: CriClient[] = [];
    try {
      await step(
        t,
        "RunPodSandbox takes the kubelet's expanded pod slice as cgroup_parent",
        async () => {
          await client.image.pullImage({ image: { image: images.busybox.ref } });
          podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
          const p = await unitProps(slices.podSlice, ["ActiveState", "ControlGroup"]);
          assertEquals(p, { ActiveState: "active", ControlGroup: slices.cgroupParent });
        },
      );

      await step(
        t,
        "a container runs in its own scope under the pod slice, with its limits",
        async () => {
          busy = (await client.runtime.createContainer({
            podSandboxId: podId,
            config: containerConfig(
              "spin",
              images.busybox.ref,
              ["sh", "-c", "while :; do :; done"],
              {
                linux: {
                  resources: {
                    memoryLimitInBytes: 64n * MiB,
                    cpuPeriod: 100_000n,
                    cpuQuota: 50_000n,
                  },
                },
              },
            ),
            sandboxConfig: pod,
          })).containerId;
          await client.runtime.startContainer({ containerId: busy });
          busyPid = Number(
            (await Deno.readTextFile(`${agent.state}/shims/${busy}/init.pid`)).trim(),
          );
          const unit = await unitProps(scopeOf(busy), ["ActiveState", "Slice", "ControlGroup"]);
          assertEquals(unit, {
            ActiveState: "active",
            Slice: slices.podSlice,
            ControlGroup: cgroupOfScope(busy),
          });
          assertEquals(await cgroupOf(busyPid), cgroupOfScope(busy));
          assertEquals(await cgroupValue(cgroupOfScope(busy), "memory.max"), String(64n * MiB));
          assertEquals(await cgroupValue(cgroupOfScope(busy), "cpu.max"), "50000 100000");
        },
      );

      await step(t, "ContainerStats reads the scope: CPU rises, a working set", async () => {
        const first = (await client.runtime.containerStats({ containerId: busy })).stats!;
        await sleep(2000);
        const second = (await client.runtime.containerStats({ containerId: busy })).stats!;
        const kernel = (await cgroupKeyed(cgroupOfScope(busy), "cpu.stat")).get("usage_usec")! *
          1000n;
        const u1 = first.cpu!.usageCoreNanoSeconds!.value;
        const u2 = second.cpu!.usageCoreNanoSeconds!.value;
        assert(u2 > u1, `cpu usage rises (${u1} → ${u2})`);
        assert(u2 <= kernel, `reported usage ${u2} is the scope's, read before ${kernel}`);
        usage = u2;
        const ws = second.memory?.workingSetBytes?.value ?? 0n;
        assert(ws > 0n && ws <= 64n * MiB, `working set ${ws} within the 64 MiB limit`);
        await assertStatsMatchKernel(second, cgroupOfScope(busy), 64n * MiB);
      });

      await step(t, "ListPodSandboxStats totals the pod slice", async () => {
        const { stats } = await client.runtime.listPodSandboxStats({ filter: { id: podId } });
        assertEquals(stats.length, 1);
        const linux = stats[0]!.linux!;
        const podCpu = linux.cpu?.usageCoreNanoSeconds?.value ?? 0n;
        assert(podCpu >= usage, `pod cpu ${podCpu} covers the container's ${usage}`);
        assert((linux.memory?.workingSetBytes?.value ?? 0n) > 0n, "pod working set");
        assertEquals(linux.containers.map((c) => c.attributes?.id), [busy]);
        assert(linux.network?.interfaces.some((i) => i.name === "eth0"), "the pod's eth0");
      });

      await step(t, "OOMKilled is reported though systemd collected the scope first", async () => {
        const trigger = `${agent.dir}/trigger`;
        await Deno.mkdir(trigger);
        oom = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("hog", images.busybox.ref, [
            "sh",
            "-c",
            "while [ ! -e /trigger/go ]; do sleep 0.2; done; " +
            "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
          ], {
            linux: {
              resources: { memoryLimitInBytes: 32n * MiB, memorySwapLimitInBytes: 32n * MiB },
            },
            mounts: [{ containerPath: "/trigger", hostPath: trigger, readonly: true }],
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: oom });
        const scope = cgroupOfScope(oom);
        assert(await cgroupExists(scope), `${scope} exists while the container waits`);
        // The shim cannot look while it is stopped: the kill, the scope's emptying and
        // systemd's collection of it all happen before the shim sees any of them.
        const shim = await shimPid(agent.state, oom);
        Deno.kill(shim, "SIGSTOP");
        try {
          await Deno.writeTextFile(`${trigger}/go`, "");
          await eventually("systemd to collect the OOM-killed container's scope", async () => {
            const u = await unitProps(scopeOf(oom), ["ActiveState"]);
            const gone = !(await cgroupExists(scope)) && u.ActiveState !== "active";
            return gone ? true : undefined;
          }, 120_000);
        } finally {
          Deno.kill(shim, "SIGCONT");
        }
        const st = await eventually("the hog to be reported exited", async () => {
          const s = (await client.runtime.containerStatus({ containerId: oom })).status!;
          return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
        }, 120_000);
        assertEquals(
          [st.reason, st.exitCode],
          ["OOMKilled", 137],
          await shimLog(agent.state, oom),
        );
        const slice = await cgroupKeyed(slices.cgroupParent, "memory.events");
        assert((slice.get("oom_kill") ?? 0n) >= 1n, "the pod slice's memory.events counts it");
      });

      await step(t, "after an agent restart the container runs on in its scope", async () => {
        client.close();
        assertEquals((await agent.stop("SIGTERM")).code, 0, agent.tail());
        await agent.launch();
        client = new CriClient(agent.socket);
        restarted.push(client);
        assert(await alive(busyPid), "the busy container's process survived the restart");
        assertEquals(await cgroupOf(busyPid), cgroupOfScope(busy));
        const st = (await client.runtime.containerStatus({ containerId: busy })).status!;
        assertEquals(st.state, ContainerState.CONTAINER_RUNNING);
        const after = (await client.runtime.containerStats({ containerId: busy })).stats!;
        const u = after.cpu!.usageCoreNanoSeconds!.value;
        assert(u > usage, `cpu still read from the scope after the restart (${usage} → ${u})`);
        const o = (await client.runtime.containerStatus({ containerId: oom })).status!;
        assertEquals([o.state, o.reason, o.exitCode], [
          ContainerState.CONTAINER_EXITED,
          "OOMKilled",
          137,
        ]);
      });

      await step(
        t,
        "RemovePodSandbox leaves no scope; the kubelet's slices go cleanly",
        async () => {
          await client.runtime.removePodSandbox({ podSandboxId: podId });
          podId = "";
          for (const id of [busy, oom]) {
            const u = await unitProps(scopeOf(id), ["ActiveState"]);
            assert(u.ActiveState !== "active", `${scopeOf(id)} is ${u.ActiveState}`);
            assert(!(await cgroupExists(cgroupOfScope(id))), `${cgroupOfScope(id)} is gone`);
          }
          assertEquals(await leftovers(agent), NOTHING);
          await slices[Symbol.asyncDispose]();
          assert(!(await cgroupExists("/kubepods.slice")), "kubepods.slice is gone");
        },
      );
    } finally {
      if (podId) await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
      for (const c of restarted) c.close();
    }
  },
));
