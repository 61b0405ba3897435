/**
 * ContainerStats: one container's cgroup, disk and network readings.
 *
 * @module
 */
import type { ContainerStatsRequest, ContainerStatsResponse } from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { id } from "../validate.ts";

/** The ContainerStats handler. */
export function containerStats(
  stats: StatsService,
): (req: ContainerStatsRequest) => Promise<ContainerStatsResponse> {
  return async (req: ContainerStatsRequest): Promise<ContainerStatsResponse> => ({
    stats: await stats.containerStats(id(req.containerId, "container_id")),
  });
}
