import { assert, assertEquals } from "../testing/assert.ts";
import { MetricType } from "../api/gen/api.ts";
import type { CgroupMetrics, ContainerStatsSample } from "../cgroups/mod.ts";
import {
  type BaseLabels,
  cgroupMetrics,
  containerExtraMetrics,
  metricDescriptors,
  type MetricSupport,
  networkMetrics,
} from "./metrics.ts";

const LABELS: BaseLabels = {
  container: "app",
  id: "/kubepods/pod1/abc",
  image: "docker.io/library/busybox:1.36",
  name: "abc",
  namespace: "default",
  pod: "web-0",
};
const T = 1_700_000_000_123_456_789n;
const psiData = (total: bigint) => ({ total, avg10: 0, avg60: 0, avg300: 0 });

const SAMPLE: ContainerStatsSample = {
  id: "abc",
  problems: [],
  cpu: {
    timestamp: T,
    usageCoreNanoSeconds: 12_900_000_000n,
    psi: { some: psiData(3_500_000_000n), full: psiData(1_200_000_000n) },
  },
  memory: {
    timestamp: T,
    usageBytes: 500n,
    workingSetBytes: 400n,
    rssBytes: 300n,
    pageFaults: 9n,
    majorPageFaults: 1n,
    limitBytes: null,
  },
  process: { timestamp: T, processCount: 4n },
  writableLayer: {
    timestamp: T,
    mountpoint: "/var/lib/sauropod",
    usedBytes: 8192n,
    inodesUsed: 3n,
  },
};
const COUNTERS: CgroupMetrics = {
  cpu: {
    userNs: 8_000_000_000n,
    systemNs: 4_900_000_000n,
    periods: 10n,
    throttledPeriods: 2n,
    throttledNs: 2_000_000_000n,
  },
  memory: { cacheBytes: 100n, failcnt: 3n, pgfault: 9n, hierarchyPgfault: 11n },
  oomKills: 1n,
  io: [{ device: "8:0", readBytes: 4096n, writeBytes: 0n, reads: 1n, writes: 0n }],
  processes: 2n,
  threads: 4n,
};

const ALL: MetricSupport = { v1: true, psi: true };
const V2_NO_PSI: MetricSupport = { v1: false, psi: false };

function byName(ms: ReturnType<typeof cgroupMetrics>) {
  return new Map(ms.map((m) => [`${m.name}${m.labelValues.slice(6).join(",")}`, m]));
}

Deno.test("every metric sent has a descriptor and one value per label key", () => {
  const keys = new Map(metricDescriptors(ALL).map((d) => [d.name, d.labelKeys.length]));
  const sent = [
    ...cgroupMetrics(LABELS, SAMPLE, COUNTERS, ALL, T),
    ...containerExtraMetrics(LABELS, SAMPLE, T, ALL, T),
    ...networkMetrics(
      LABELS,
      [{
        name: "eth0",
        rxBytes: 1n,
        rxPackets: 1n,
        rxErrors: 0n,
        rxDropped: 0n,
        txBytes: 2n,
        txPackets: 1n,
        txErrors: 0n,
        txDropped: 0n,
      }],
      ALL,
      T,
    ),
  ];
  assert(sent.length > 30, `${sent.length} metrics`);
  for (const m of sent) {
    assertEquals(m.labelValues.length, keys.get(m.name), m.name);
    assertEquals(m.timestamp, T);
  }
  const descs = metricDescriptors(ALL);
  assertEquals(new Set(descs.map((d) => d.name)).size, descs.length, "no duplicate descriptor");
  for (const d of descs) {
    assertEquals(d.labelKeys.slice(0, 6), ["container", "id", "image", "name", "namespace", "pod"]);
  }
});

Deno.test("values follow cAdvisor: whole seconds, PSI waiting = some and stalled = full", () => {
  const m = byName(cgroupMetrics(LABELS, SAMPLE, COUNTERS, ALL, T));
  assertEquals(m.get("container_cpu_usage_seconds_totaltotal")?.value?.value, 12n);
  assertEquals(m.get("container_cpu_usage_seconds_totaltotal")?.metricType, MetricType.COUNTER);
  assertEquals(m.get("container_cpu_user_seconds_total")?.value?.value, 8n);
  assertEquals(m.get("container_cpu_system_seconds_total")?.value?.value, 4n);
  assertEquals(m.get("container_cpu_cfs_throttled_seconds_total")?.value?.value, 2n);
  assertEquals(m.get("container_memory_working_set_bytes")?.value?.value, 400n);
  assertEquals(m.get("container_memory_working_set_bytes")?.metricType, MetricType.GAUGE);
  assertEquals(m.get("container_spec_memory_limit_bytes")?.value?.value, 0n, "unlimited is 0");
  assertEquals(m.get("container_memory_failures_totalpgfault,container")?.value?.value, 9n);
  assertEquals(m.get("container_memory_failures_totalpgfault,hierarchy")?.value?.value, 11n);
  assertEquals(m.get("container_oom_events_total")?.value?.value, 1n);
  assertEquals(m.get("container_fs_reads_bytes_total8:0")?.value?.value, 4096n);
  assertEquals(m.get("container_pressure_cpu_waiting_seconds_total")?.value?.value, 3n);
  assertEquals(m.get("container_pressure_cpu_stalled_seconds_total")?.value?.value, 1n);
  assertEquals(m.get("container_processes")?.value?.value, 2n);
  assertEquals(m.get("container_threads")?.value?.value, 4n);
  assertEquals(m.get("container_last_seen")?.value?.value, T / 1_000_000_000n);
  assertEquals(m.get("container_memory_usage_bytes")?.labelValues, [
    "app",
    "/kubepods/pod1/abc",
    "docker.io/library/busybox:1.36",
    "abc",
    "default",
    "web-0",
  ]);
  // Nothing read, nothing sent: no max usage, no swap, no io PSI in this sample.
  assertEquals(m.has("container_memory_max_usage_bytes"), false);
  assertEquals(m.has("container_memory_swap"), false);
  assertEquals(m.has("container_pressure_io_waiting_seconds_total"), false);
});

Deno.test("what the node cannot produce is neither described nor sent", () => {
  const names = metricDescriptors(V2_NO_PSI).map((d) => d.name);
  assertEquals(names.includes("container_memory_failcnt"), false);
  assertEquals(names.some((n) => n.startsWith("container_pressure_")), false);
  assert(names.includes("container_cpu_usage_seconds_total"));
  const sent = cgroupMetrics(LABELS, SAMPLE, COUNTERS, V2_NO_PSI, T).map((m) => m.name);
  assertEquals(sent.includes("container_memory_failcnt"), false);
  assertEquals(sent.some((n) => n.startsWith("container_pressure_")), false);
});

Deno.test("the writable layer and start time; network per interface without loopback", () => {
  const extra = byName(containerExtraMetrics(LABELS, SAMPLE, 5_000_000_000n, ALL, T));
  assertEquals(extra.get("container_fs_usage_bytes/var/lib/sauropod")?.value?.value, 8192n);
  assertEquals(extra.get("container_start_time_seconds")?.value?.value, 5n);
  const iface = (name: string) => ({
    name,
    rxBytes: 10n,
    rxPackets: 2n,
    rxErrors: 0n,
    rxDropped: 1n,
    txBytes: 20n,
    txPackets: 3n,
    txErrors: 0n,
    txDropped: 0n,
  });
  const net = networkMetrics({ ...LABELS, container: "" }, [iface("lo"), iface("eth0")], ALL, T);
  assertEquals(new Set(net.map((m) => m.labelValues.at(-1))), new Set(["eth0"]));
  assertEquals(net.length, 8);
  assertEquals(
    net.find((m) => m.name === "container_network_receive_packets_dropped_total")?.value?.value,
    1n,
  );
});
