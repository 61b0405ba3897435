/**
 * cgroup v1 and v2 behind one interface: where the hierarchies are (layout), how pods and
 * containers are named in them (drivers), what they use (stats, normalised across
 * versions), and OOM-kill watching.
 *
 * For the runtime, the usual path is:
 *
 * ```ts
 * const layout = await detectLayout();
 * const driver = cgroupDriver(config.runtime.cgroupDriver);
 * spec.linux.cgroupsPath = driver.runtimeCgroupsPath(podParent, containerId);
 * const collector = new StatsCollector({ logger });
 * const stats = await collector.container({
 *   id: containerId,
 *   cgroup: locateCgroup(layout, driver.containerCgroupPath(podParent, containerId)),
 *   writableLayer: { dir: upperDir, mountpoint: stateRoot },
 * });
 * ```
 *
 * The shim should import `./oom.ts` directly: it is kept free of the stats code.
 *
 * @module
 */
export * from "./layout.ts";
export * from "./parse.ts";
export * from "./types.ts";
export * from "./driver.ts";
export {
  type CgroupLocation,
  type CgroupReader,
  locateCgroup,
  readerFor,
  type ResourceDir,
} from "./reader.ts";
export { DEFAULT_RESOURCES, readCgroupStats, type ReadStatsOptions } from "./stats.ts";
export {
  type ContainerStatsTarget,
  nanoCores,
  type PodStatsTarget,
  readContainerStats,
  readPodStats,
  StatsCollector,
  type StatsCollectorOptions,
} from "./collector.ts";
export {
  type CgroupMetrics,
  type CpuMetrics,
  type DeviceIo,
  kernelHasPsi,
  type MemoryMetrics,
  readCgroupMetrics,
} from "./metrics.ts";
export { type DiskUsage, diskUsage, DiskUsageCache } from "./disk_usage.ts";
export { createPodCgroup, type OwnedCgroup, removePodCgroup } from "./pod_cgroup.ts";
export { type CgroupLimits, memoryUsage, sharesToWeight, writeCgroupLimits } from "./limits.ts";
export {
  CgroupOomWatcher,
  type OomWatcher,
  readOomKillCount,
  watchOom,
  type WatchOomOptions,
} from "./oom.ts";
