/**
 * CRI metrics (KEP-2371) and the stats fields the kubelet's CRI-only path reads, end to
 * end on this machine's cgroups: ListMetricDescriptors describes every metric
 * ListPodSandboxMetrics sends, with cAdvisor's names and label values; StreamPodSandboxMetrics
 * sends the same series; ContainerStats and PodSandboxStats carry IoUsage and the pod's
 * default interface; and with `stats.collect_period_seconds` the background collector has
 * a CPU rate ready on the very first call. ImageFsInfo names the one shared file system as
 * both image and container file system, as the writable layers' fsId.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import type { Metric } from "../api/gen/api.ts";
import { e2eEnv } from "./harness/env.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  runContainer,
} from "./harness/pods.ts";

const key = (m: Metric) => `${m.name}{${m.labelValues.join(",")}}`;

Deno.test("metrics: descriptors, pod and container series with cAdvisor labels, stream = list", async () => {
  await using env = await e2eEnv({ logLevel: "info" });
  const { client, images, logRoot } = env;
  const { runtime } = client;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "metrics");
  const podId = (await runtime.runPodSandbox({ config: pod })).podSandboxId;
  try {
    const id = await runContainer(
      client,
      podId,
      containerConfig("worker", images.busybox.ref, [
        "sh",
        "-c",
        "dd if=/dev/zero of=/tmp/f bs=1M count=8 2>/dev/null; while :; do :; done",
      ]),
      pod,
    );
    const { descriptors } = await runtime.listMetricDescriptors({});
    const keys = new Map(descriptors.map((d) => [d.name, d.labelKeys]));
    for (
      const name of [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_network_receive_bytes_total",
        "container_fs_reads_bytes_total",
        "container_oom_events_total",
        "container_processes",
      ]
    ) assert(keys.has(name), `descriptor ${name}`);
    assertEquals(keys.get("container_memory_usage_bytes"), [
      "container",
      "id",
      "image",
      "name",
      "namespace",
      "pod",
    ]);

    // CPU seconds are whole: wait for the busy loop to pass one.
    const podMetrics = await eventually("a second of CPU", async () => {
      const res = await runtime.listPodSandboxMetrics({});
      const cpu = res.podMetrics[0]?.containerMetrics[0]?.metrics.find((m) =>
        m.name === "container_cpu_usage_seconds_total"
      );
      return (cpu?.value?.value ?? 0n) >= 1n ? res.podMetrics : undefined;
    });
    assertEquals(podMetrics.map((p) => p.podSandboxId), [podId]);
    const pm = podMetrics[0]!;
    assertEquals(pm.containerMetrics.map((c) => c.containerId), [id]);
    const all = [...pm.metrics, ...pm.containerMetrics[0]!.metrics];
    for (const m of all) {
      assertEquals(m.labelValues.length, keys.get(m.name)?.length, `labels of ${m.name}`);
      assert(m.timestamp > 1_600_000_000_000_000_000n, `${m.name} timestamp in ns`);
    }
    const labels = (m: Metric) =>
      Object.fromEntries(keys.get(m.name)!.map((k, i) => [k, m.labelValues[i]]));
    const ctr = pm.containerMetrics[0]!.metrics;
    const ws = ctr.find((m) => m.name === "container_memory_working_set_bytes")!;
    assert(ws.value!.value > 0n, "working set");
    const l = labels(ws);
    assertEquals([l.container, l.name, l.namespace, l.pod, l.image], [
      "worker",
      id,
      "e2e",
      "metrics",
      images.busybox.ref,
    ]);
    assert(l.id?.endsWith(id), `id is the cgroup path: ${l.id}`);
    const rx = pm.metrics.find((m) => m.name === "container_network_receive_bytes_total");
    assertEquals(rx && labels(rx).interface, "eth0", "pod network series");
    assertEquals(rx && labels(rx).container, "", 'pod series have container ""');
    assert(ctr.some((m) => m.name === "container_threads"), "threads");
    // Pressure is described only where the kernel keeps it, and then sent.
    for (const r of ["cpu", "memory", "io"]) {
      const name = `container_pressure_${r}_waiting_seconds_total`;
      assertEquals(ctr.some((m) => m.name === name), keys.has(name), name);
    }
    assert(ctr.some((m) => m.name === "container_fs_usage_bytes"), "writable layer");
    assert(ctr.some((m) => m.name === "container_start_time_seconds"), "start time");

    const streamed: Metric[] = [];
    for await (const msg of runtime.streamPodSandboxMetrics({})) {
      for (const p of msg.podSandboxMetrics) {
        streamed.push(...p.metrics, ...p.containerMetrics.flatMap((c) => c.metrics));
      }
    }
    assertEquals(new Set(streamed.map(key)), new Set(all.map(key)));

    // The stats messages: IoUsage and the pod's default interface.
    const cs = (await runtime.containerStats({ containerId: id })).stats!;
    assert((cs.io?.timestamp ?? 0n) > 0n, "ContainerStats.io");
    // ImageFsInfo (KEP-4191): one shared file system, named alike everywhere, so the
    // kubelet's split-filesystem check says "not split".
    const fsInfo = await client.image.imageFsInfo({});
    assertEquals(fsInfo.containerFilesystems.length, 1);
    const mountpoint = fsInfo.imageFilesystems[0]?.fsId?.mountpoint;
    assertEquals(fsInfo.containerFilesystems[0]?.fsId?.mountpoint, mountpoint);
    assertEquals(cs.writableLayer?.fsId?.mountpoint, mountpoint, "writable layer's fsId");
    const ps = (await runtime.podSandboxStats({ podSandboxId: podId })).stats!;
    assert((ps.linux?.io?.timestamp ?? 0n) > 0n, "PodSandboxStats.linux.io");
    const net = ps.linux?.network;
    assertEquals(net?.defaultInterface?.name, "eth0");
    assertEquals(
      net?.defaultInterface,
      net?.interfaces.find((i) => i.name === "eth0"),
      "default_interface is eth0's counters",
    );
  } finally {
    await runtime.removePodSandbox({ podSandboxId: podId });
  }
  assertEquals(await leftovers(env.agent, ["/sauropod"]), NOTHING);
});

Deno.test("metrics: collect_period_seconds has a CPU rate ready on the first call", async () => {
  await using env = await e2eEnv({
    logLevel: "info",
    config: "[stats]\ncollect_period_seconds = 1",
  });
  const { client, images, logRoot } = env;
  const { runtime } = client;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "period");
  const podId = (await runtime.runPodSandbox({ config: pod })).podSandboxId;
  try {
    const id = await runContainer(
      client,
      podId,
      containerConfig("spin", images.busybox.ref, ["sh", "-c", "while :; do :; done"]),
      pod,
    );
    // No stats call before this one: only background rounds can have sampled the CPU
    // twice (on demand, a first sample has no rate).
    await new Promise((r) => setTimeout(r, 3500));
    const first = (await runtime.containerStats({ containerId: id })).stats!;
    assert((first.cpu?.usageNanoCores?.value ?? 0n) > 0n, "rate on the first call");
  } finally {
    await runtime.removePodSandbox({ podSandboxId: podId });
  }
  assertEquals(await leftovers(env.agent, ["/sauropod"]), NOTHING);
});
