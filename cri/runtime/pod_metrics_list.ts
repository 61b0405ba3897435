/**
 * ListPodSandboxMetrics (KEP-2371): the metrics of every ready pod and its containers, read
 * through the same collector as the stats.
 *
 * @module
 */
import type {
  ListPodSandboxMetricsRequest,
  ListPodSandboxMetricsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";

/** The ListPodSandboxMetrics handler. */
export function listPodSandboxMetrics(
  stats: StatsService,
): (req: ListPodSandboxMetricsRequest) => Promise<ListPodSandboxMetricsResponse> {
  return async (_req: ListPodSandboxMetricsRequest): Promise<ListPodSandboxMetricsResponse> => ({
    podMetrics: await stats.listPodSandboxMetrics(),
  });
}
