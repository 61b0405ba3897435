/**
 * ListContainerStats: the readings of every container the filter matches.
 *
 * @module
 */
import type { ListContainerStatsRequest, ListContainerStatsResponse } from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";

/** The ListContainerStats handler. */
export function listContainerStats(
  stats: StatsService,
): (req: ListContainerStatsRequest) => Promise<ListContainerStatsResponse> {
  return async (req: ListContainerStatsRequest): Promise<ListContainerStatsResponse> => ({
    stats: await stats.listContainerStats(req.filter),
  });
}
