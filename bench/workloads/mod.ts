/**
 * The workloads, in the order a run measures them: cheap and independent first, then the
 * ones that keep many pods running, then the runtime-independent floor.
 *
 * @module
 */
import { concurrent } from "./concurrent.ts";
import { execStream } from "./exec_stream.ts";
import { execSync } from "./exec_sync.ts";
import { floor } from "./floor.ts";
import { lists } from "./lists.ts";
import { memory } from "./memory.ts";
import { pull } from "./pull.ts";
import { restart } from "./restart.ts";
import { start, startNet } from "./start.ts";
import { stopRemove } from "./stop_remove.ts";
import type { Workload } from "./types.ts";
import { version } from "./version.ts";

export type { BenchImages, Workload, WorkloadContext } from "./types.ts";

/** Every workload. */
export const WORKLOADS: readonly Workload[] = [
  version,
  pull,
  start,
  startNet,
  stopRemove,
  execSync,
  execStream,
  concurrent,
  lists,
  memory,
  restart,
  floor,
];
