/**
 * The workloads, in the order a run measures them: cheap and independent first, then the
 * ones that keep many pods running, then the runtime-independent floor.
 *
 * @module
 */
import { start, startNet } from "./start.ts";
import type { Workload } from "./types.ts";
import { version } from "./version.ts";

export type { BenchImages, Workload, WorkloadContext } from "./types.ts";

/** Every workload. */
export const WORKLOADS: readonly Workload[] = [
  version,
  start,
  startNet,
];
