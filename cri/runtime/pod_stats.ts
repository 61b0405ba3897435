/**
 * PodSandboxStats: one pod's cgroup and network readings, with its containers'.
 *
 * @module
 */
import type { PodSandboxStatsRequest, PodSandboxStatsResponse } from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { id } from "../validate.ts";

/** The PodSandboxStats handler. */
export function podSandboxStats(
  stats: StatsService,
): (req: PodSandboxStatsRequest) => Promise<PodSandboxStatsResponse> {
  return async (req: PodSandboxStatsRequest): Promise<PodSandboxStatsResponse> => ({
    stats: await stats.podSandboxStats(id(req.podSandboxId, "pod_sandbox_id")),
  });
}
