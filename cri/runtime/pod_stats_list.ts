/**
 * ListPodSandboxStats: the readings of every pod the filter matches.
 *
 * @module
 */
import type { ListPodSandboxStatsRequest, ListPodSandboxStatsResponse } from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";

/** The ListPodSandboxStats handler. */
export function listPodSandboxStats(
  stats: StatsService,
): (req: ListPodSandboxStatsRequest) => Promise<ListPodSandboxStatsResponse> {
  return async (req: ListPodSandboxStatsRequest): Promise<ListPodSandboxStatsResponse> => ({
    stats: await stats.listPodSandboxStats(req.filter),
  });
}
