/**
 * The CRI metrics (KEP-2371, `PodAndContainerStatsFromCRI`): `ListMetricDescriptors` and
 * `ListPodSandboxMetrics` under the names, types and label sets the kubelet's
 * `/metrics/cadvisor` serves from cAdvisor (containerd's and CRI-O's tables use the same),
 * computed from the same collector readings as the CRI stats.
 *
 * Values are the CRI's UInt64, so `*_seconds_total` counters are whole seconds (ns ÷ 1e9,
 * truncated), as CRI-O sends them; timestamps are ns since the epoch. A metric is listed
 * and sent only for data this node really produces (no `failcnt` on v2, no PSI without
 * pressure files): a missing value is left out, never sent as 0.
 *
 * @module
 */
import { type Metric, type MetricDescriptor, MetricType } from "../api/gen/api.ts";
import type { CgroupMetrics, CgroupStats, ContainerStatsSample, PsiStats } from "../cgroups/mod.ts";
import type { InterfaceStats } from "../network/mod.ts";

const C = MetricType.COUNTER;
const G = MetricType.GAUGE;

/** Which label set a metric carries (cAdvisor's). */
type LabelSet = "base" | "cpu" | "network" | "disk" | "failures";

/** The labels every metric starts with, in this order. */
export const BASE_LABELS = ["container", "id", "image", "name", "namespace", "pod"] as const;
const LABEL_KEYS: Record<LabelSet, readonly string[]> = {
  base: BASE_LABELS,
  // cAdvisor without per-CPU usage (the kubelet's) labels its one series cpu="total".
  cpu: [...BASE_LABELS, "cpu"],
  network: [...BASE_LABELS, "interface"],
  disk: [...BASE_LABELS, "device"],
  failures: [...BASE_LABELS, "failure_type", "scope"],
};

/** What a node can report; descriptors of data it cannot produce are not listed. */
export interface MetricSupport {
  /** cgroup v1 memory (memory.failcnt, kmem). */
  readonly v1: boolean;
  /** PSI files on the unified hierarchy. */
  readonly psi: boolean;
}

interface Def {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: LabelSet;
  readonly when?: (s: MetricSupport) => boolean;
}

const psi = (s: MetricSupport) => s.psi;

/** Every metric sauropod can send, with cAdvisor's help text. */
export const METRICS: readonly Def[] = [
  {
    name: "container_cpu_usage_seconds_total",
    type: C,
    labels: "cpu",
    help: "Cumulative cpu time consumed in seconds.",
  },
  {
    name: "container_cpu_user_seconds_total",
    type: C,
    labels: "base",
    help: "Cumulative user cpu time consumed in seconds.",
  },
  {
    name: "container_cpu_system_seconds_total",
    type: C,
    labels: "base",
    help: "Cumulative system cpu time consumed in seconds.",
  },
  {
    name: "container_cpu_cfs_periods_total",
    type: C,
    labels: "base",
    help: "Number of elapsed enforcement period intervals.",
  },
  {
    name: "container_cpu_cfs_throttled_periods_total",
    type: C,
    labels: "base",
    help: "Number of throttled period intervals.",
  },
  {
    name: "container_cpu_cfs_throttled_seconds_total",
    type: C,
    labels: "base",
    help: "Total time duration the container has been throttled.",
  },
  {
    name: "container_memory_usage_bytes",
    type: G,
    labels: "base",
    help: "Current memory usage in bytes, including all memory regardless of when it was accessed",
  },
  {
    name: "container_memory_working_set_bytes",
    type: G,
    labels: "base",
    help: "Current working set in bytes.",
  },
  { name: "container_memory_rss", type: G, labels: "base", help: "Size of RSS in bytes." },
  {
    name: "container_memory_cache",
    type: G,
    labels: "base",
    help: "Number of bytes of page cache memory.",
  },
  {
    name: "container_memory_mapped_file",
    type: G,
    labels: "base",
    help: "Size of memory mapped files in bytes.",
  },
  {
    name: "container_memory_swap",
    type: G,
    labels: "base",
    help: "Container swap usage in bytes.",
  },
  {
    name: "container_memory_kernel_usage",
    type: G,
    labels: "base",
    help: "Size of kernel memory allocated in bytes.",
  },
  {
    name: "container_memory_max_usage_bytes",
    type: G,
    labels: "base",
    help: "Maximum memory usage recorded in bytes",
  },
  {
    name: "container_memory_failcnt",
    type: C,
    labels: "base",
    help: "Number of memory usage hits limits",
    when: (s) => s.v1,
  },
  {
    name: "container_memory_total_active_file_bytes",
    type: G,
    labels: "base",
    help: "Current total active file in bytes.",
  },
  {
    name: "container_memory_total_inactive_file_bytes",
    type: G,
    labels: "base",
    help: "Current total inactive file in bytes.",
  },
  {
    name: "container_memory_failures_total",
    type: C,
    labels: "failures",
    help: "Cumulative count of memory allocation failures.",
  },
  {
    name: "container_spec_memory_limit_bytes",
    type: G,
    labels: "base",
    help: "Memory limit for the container.",
  },
  {
    name: "container_oom_events_total",
    type: C,
    labels: "base",
    help: "Count of out of memory events observed for the container",
  },
  {
    name: "container_processes",
    type: G,
    labels: "base",
    help: "Number of processes running inside the container.",
  },
  {
    name: "container_threads",
    type: G,
    labels: "base",
    help: "Number of threads running inside the container",
  },
  {
    name: "container_threads_max",
    type: G,
    labels: "base",
    help: "Maximum number of threads allowed inside the container, infinity if value is zero",
  },
  {
    name: "container_fs_usage_bytes",
    type: G,
    labels: "disk",
    help: "Number of bytes that are consumed by the container on this filesystem.",
  },
  { name: "container_fs_inodes_total", type: G, labels: "disk", help: "Number of Inodes" },
  {
    name: "container_fs_reads_bytes_total",
    type: C,
    labels: "disk",
    help: "Cumulative count of bytes read",
  },
  {
    name: "container_fs_writes_bytes_total",
    type: C,
    labels: "disk",
    help: "Cumulative count of bytes written",
  },
  {
    name: "container_fs_reads_total",
    type: C,
    labels: "disk",
    help: "Cumulative count of reads completed",
  },
  {
    name: "container_fs_writes_total",
    type: C,
    labels: "disk",
    help: "Cumulative count of writes completed",
  },
  {
    name: "container_network_receive_bytes_total",
    type: C,
    labels: "network",
    help: "Cumulative count of bytes received",
  },
  {
    name: "container_network_receive_packets_total",
    type: C,
    labels: "network",
    help: "Cumulative count of packets received",
  },
  {
    name: "container_network_receive_packets_dropped_total",
    type: C,
    labels: "network",
    help: "Cumulative count of packets dropped while receiving",
  },
  {
    name: "container_network_receive_errors_total",
    type: C,
    labels: "network",
    help: "Cumulative count of errors encountered while receiving",
  },
  {
    name: "container_network_transmit_bytes_total",
    type: C,
    labels: "network",
    help: "Cumulative count of bytes transmitted",
  },
  {
    name: "container_network_transmit_packets_total",
    type: C,
    labels: "network",
    help: "Cumulative count of packets transmitted",
  },
  {
    name: "container_network_transmit_packets_dropped_total",
    type: C,
    labels: "network",
    help: "Cumulative count of packets dropped while transmitting",
  },
  {
    name: "container_network_transmit_errors_total",
    type: C,
    labels: "network",
    help: "Cumulative count of errors encountered while transmitting",
  },
  {
    name: "container_start_time_seconds",
    type: G,
    labels: "base",
    help: "Start time of the container since unix epoch in seconds.",
  },
  {
    name: "container_last_seen",
    type: G,
    labels: "base",
    help: "Last time a container was seen by the exporter",
  },
  ...(["cpu", "memory", "io"] as const).flatMap((r): Def[] => [
    {
      name: `container_pressure_${r}_stalled_seconds_total`,
      type: C,
      labels: "base",
      when: psi,
      help:
        `Total time duration no tasks in the container could make progress due to ${r} congestion.`,
    },
    {
      name: `container_pressure_${r}_waiting_seconds_total`,
      type: C,
      labels: "base",
      when: psi,
      help: `Total time duration tasks in the container have waited due to ${r} congestion.`,
    },
  ]),
];

const BY_NAME = new Map(METRICS.map((d) => [d.name, d]));

/** ListMetricDescriptors: what this node sends, each with its label keys in order. */
export function metricDescriptors(support: MetricSupport): MetricDescriptor[] {
  return METRICS.filter((d) => d.when?.(support) ?? true).map((d) => ({
    name: d.name,
    help: d.help,
    labelKeys: [...LABEL_KEYS[d.labels]],
  }));
}

/** The base label values of one container (or of the pod itself: container ""). */
export interface BaseLabels {
  /** The container's name in the pod; "" for the pod's own cgroup (as cAdvisor). */
  readonly container: string;
  /** Container id, or the pod sandbox id for the pod. */
  readonly id: string;
  /** The image the container was created from; "" for the pod. */
  readonly image: string;
  /** The runtime's name of it (the id, as containerd). */
  readonly name: string;
  readonly namespace: string;
  readonly pod: string;
}

const SECOND = 1_000_000_000n;

/** Builds metrics of one labelled subject, all stamped `timestamp`. */
class Out {
  readonly metrics: Metric[] = [];
  readonly #base: string[];
  constructor(labels: BaseLabels, readonly timestamp: bigint, readonly support: MetricSupport) {
    this.#base = BASE_LABELS.map((k) => labels[k]);
  }
  add(name: string, value: bigint | undefined, extra: string[] = []): void {
    if (value === undefined) return;
    const d = BY_NAME.get(name);
    if (!d || !(d.when?.(this.support) ?? true)) return;
    this.metrics.push({
      name,
      timestamp: this.timestamp,
      metricType: d.type,
      labelValues: [...this.#base, ...extra],
      value: { value: value < 0n ? 0n : value },
    });
  }
}

const secs = (ns: bigint | undefined) => ns === undefined ? undefined : ns / SECOND;

function pressure(out: Out, r: "cpu" | "memory" | "io", p: PsiStats | undefined): void {
  if (!p) return;
  out.add(`container_pressure_${r}_waiting_seconds_total`, secs(p.some.total));
  out.add(`container_pressure_${r}_stalled_seconds_total`, secs(p.full?.total));
}

/** The cgroup metrics of one container or pod: stats readings plus the extra counters. */
export function cgroupMetrics(
  labels: BaseLabels,
  stats: CgroupStats,
  counters: CgroupMetrics | undefined,
  support: MetricSupport,
  timestamp: bigint,
): Metric[] {
  const out = new Out(labels, timestamp, support);
  const cpu = counters?.cpu;
  out.add("container_cpu_usage_seconds_total", secs(stats.cpu?.usageCoreNanoSeconds), ["total"]);
  out.add("container_cpu_user_seconds_total", secs(cpu?.userNs));
  out.add("container_cpu_system_seconds_total", secs(cpu?.systemNs));
  out.add("container_cpu_cfs_periods_total", cpu?.periods);
  out.add("container_cpu_cfs_throttled_periods_total", cpu?.throttledPeriods);
  out.add("container_cpu_cfs_throttled_seconds_total", secs(cpu?.throttledNs));
  const m = stats.memory;
  const mm = counters?.memory;
  out.add("container_memory_usage_bytes", m?.usageBytes);
  out.add("container_memory_working_set_bytes", m?.workingSetBytes);
  out.add("container_memory_rss", mm?.rssBytes ?? m?.rssBytes);
  out.add("container_memory_cache", mm?.cacheBytes);
  out.add("container_memory_mapped_file", mm?.mappedFileBytes);
  out.add("container_memory_swap", stats.swap?.swapUsageBytes);
  out.add("container_memory_kernel_usage", mm?.kernelBytes);
  out.add("container_memory_max_usage_bytes", mm?.maxUsageBytes);
  out.add("container_memory_failcnt", mm?.failcnt);
  out.add("container_memory_total_active_file_bytes", mm?.activeFileBytes);
  out.add("container_memory_total_inactive_file_bytes", mm?.inactiveFileBytes);
  const failures = "container_memory_failures_total";
  out.add(failures, mm?.pgfault, ["pgfault", "container"]);
  out.add(failures, mm?.pgmajfault, ["pgmajfault", "container"]);
  out.add(failures, mm?.hierarchyPgfault, ["pgfault", "hierarchy"]);
  out.add(failures, mm?.hierarchyPgmajfault, ["pgmajfault", "hierarchy"]);
  // cAdvisor reports an unlimited container as 0.
  if (m) out.add("container_spec_memory_limit_bytes", m.limitBytes ?? 0n);
  out.add("container_oom_events_total", counters?.oomKills);
  out.add("container_processes", counters?.processes);
  out.add("container_threads", counters?.threads ?? stats.process?.processCount);
  if (counters?.threads !== undefined) {
    out.add("container_threads_max", counters.threadsMax ?? 0n);
  }
  for (const d of counters?.io ?? []) {
    out.add("container_fs_reads_bytes_total", d.readBytes, [d.device]);
    out.add("container_fs_writes_bytes_total", d.writeBytes, [d.device]);
    out.add("container_fs_reads_total", d.reads, [d.device]);
    out.add("container_fs_writes_total", d.writes, [d.device]);
  }
  pressure(out, "cpu", stats.cpu?.psi);
  pressure(out, "memory", stats.memory?.psi);
  pressure(out, "io", stats.io?.psi);
  out.add("container_last_seen", timestamp / SECOND);
  return out.metrics;
}

/** A container's own extras: its writable layer and its start time. */
export function containerExtraMetrics(
  labels: BaseLabels,
  sample: ContainerStatsSample,
  startedAtNs: bigint,
  support: MetricSupport,
  timestamp: bigint,
): Metric[] {
  const out = new Out(labels, timestamp, support);
  const w = sample.writableLayer;
  if (w) {
    const device = w.mountpoint ?? "";
    out.add("container_fs_usage_bytes", w.usedBytes, [device]);
    out.add("container_fs_inodes_total", w.inodesUsed, [device]);
  }
  if (startedAtNs > 0n) out.add("container_start_time_seconds", startedAtNs / SECOND);
  return out.metrics;
}

/** The pod's network metrics, one series per interface (loopback left out, as cAdvisor). */
export function networkMetrics(
  labels: BaseLabels,
  interfaces: readonly InterfaceStats[],
  support: MetricSupport,
  timestamp: bigint,
): Metric[] {
  const out = new Out(labels, timestamp, support);
  for (const i of interfaces) {
    if (i.name === "lo") continue;
    const l = [i.name];
    out.add("container_network_receive_bytes_total", i.rxBytes, l);
    out.add("container_network_receive_packets_total", i.rxPackets, l);
    out.add("container_network_receive_packets_dropped_total", i.rxDropped, l);
    out.add("container_network_receive_errors_total", i.rxErrors, l);
    out.add("container_network_transmit_bytes_total", i.txBytes, l);
    out.add("container_network_transmit_packets_total", i.txPackets, l);
    out.add("container_network_transmit_packets_dropped_total", i.txDropped, l);
    out.add("container_network_transmit_errors_total", i.txErrors, l);
  }
  return out.metrics;
}
