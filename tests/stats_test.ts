/**
 * Stats and OOM kills end to end on this machine's real cgroup v1: a busy container's CPU
 * rises between two samples, a memory-limited container that allocates past its limit is
 * reported OOMKilled with exit code 137, and stats for 30 containers list in one call.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { ContainerEventType, ContainerState } from "../api/gen/api.ts";
import { e2eEnv } from "./harness/env.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  runContainer,
} from "./harness/pods.ts";

Deno.test("stats: cpu usage rises and usage_nano_cores is plausible for a busy container", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "busy");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("spin", images.busybox.ref, ["sh", "-c", "while :; do :; done"]),
    pod,
  );

  const first = (await client.runtime.containerStats({ containerId: id })).stats!;
  await new Promise((r) => setTimeout(r, 1500));
  const second = (await client.runtime.containerStats({ containerId: id })).stats!;
  const u1 = first.cpu!.usageCoreNanoSeconds!.value;
  const u2 = second.cpu!.usageCoreNanoSeconds!.value;
  assert(u2 > u1, `cpu usage rises (${u1} → ${u2})`);
  assert(second.cpu!.timestamp > first.cpu!.timestamp);
  const nanoCores = Number(second.cpu!.usageNanoCores?.value ?? 0n);
  // One busy loop on a 2-core machine shared with other work: between 0.2 and 1.05 cores.
  assert(nanoCores > 0.2e9 && nanoCores < 1.05e9, `usage_nano_cores ${nanoCores}`);
  assert((second.memory?.workingSetBytes?.value ?? 0n) > 0n, "working set");
  assert(second.writableLayer?.fsId?.mountpoint, "writable layer has a mountpoint");
  assertEquals(second.attributes?.id, id);

  const pods = await client.runtime.listPodSandboxStats({});
  assertEquals(pods.stats.length, 1);
  const ps = pods.stats[0]!;
  assertEquals(ps.attributes?.id, podId);
  assert((ps.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n) >= u1, "pod cpu covers the container");
  assertEquals(ps.linux?.containers.length, 1);
  assert((ps.linux?.process?.processCount?.value ?? 0n) >= 1n);
  assert(ps.linux?.network?.interfaces.some((i) => i.name === "eth0"), "pod network stats");

  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(env.agent), NOTHING);
});

Deno.test("stats: a container over its 32 MiB limit is OOMKilled with exit code 137", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "oom");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const events = client.runtime.getContainerEvents({});
  const seen: { id: string; type: ContainerEventType }[] = [];
  const reader = (async () => {
    for await (const e of events) {
      seen.push({ id: e.containerId, type: e.containerEventType });
      if (
        e.containerEventType === ContainerEventType.CONTAINER_STOPPED_EVENT &&
        e.containerId !== podId
      ) {
        break;
      }
    }
  })();
  const limit = 32n << 20n;
  const id = await runContainer(
    client,
    podId,
    containerConfig("hog", images.busybox.ref, [
      "sh",
      "-c",
      // 64 MiB into the container's main process: dd's 64 MiB block buffer.
      "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
    ], { linux: { resources: { memoryLimitInBytes: limit, memorySwapLimitInBytes: limit } } }),
    pod,
  );
  const st = await eventually("the container to be OOM-killed", async () => {
    const s = (await client.runtime.containerStatus({ containerId: id })).status!;
    return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
  }, 30_000);
  assertEquals(st.reason, "OOMKilled");
  assertEquals(st.exitCode, 137);
  await reader;
  assert(seen.some((e) => e.id === id && e.type === ContainerEventType.CONTAINER_STOPPED_EVENT));
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(env.agent), NOTHING);
});

Deno.test("stats: listing stats of 30 containers", async () => {
  await using env = await e2eEnv({ logLevel: "info" });
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pods = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    const pod = podConfig(logRoot, `s${i}`);
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    for (const n of ["a", "b", "c"]) {
      await runContainer(
        client,
        podId,
        containerConfig(n, images.busybox.ref, ["sleep", "100000"]),
        pod,
      );
    }
    return podId;
  }));
  const all = await client.runtime.listContainerStats({});
  assertEquals(all.stats.length, 30);
  for (const s of all.stats) {
    assert(s.cpu && s.memory && s.writableLayer, `stats of ${s.attributes?.id}`);
  }
  const one = await client.runtime.listContainerStats({ filter: { podSandboxId: pods[0]! } });
  assertEquals(one.stats.length, 3);
  const labelled = await client.runtime.listContainerStats({
    filter: { labelSelector: { container: "b" } },
  });
  assertEquals(labelled.stats.length, 10);
  await Promise.all(pods.map((podSandboxId) => client.runtime.removePodSandbox({ podSandboxId })));
  assertEquals(await leftovers(env.agent, ["/sauropod"]), NOTHING);
});
