/**
 * ListMetricDescriptors (KEP-2371): the cAdvisor-named metrics ListPodSandboxMetrics sends
 * on this node, each with its label keys in the order of the values.
 *
 * @module
 */
import type {
  ListMetricDescriptorsRequest,
  ListMetricDescriptorsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";

/** The ListMetricDescriptors handler. */
export function listMetricDescriptors(
  stats: StatsService,
): (req: ListMetricDescriptorsRequest) => Promise<ListMetricDescriptorsResponse> {
  return (_req: ListMetricDescriptorsRequest): Promise<ListMetricDescriptorsResponse> =>
    Promise.resolve({ descriptors: stats.metricDescriptors() });
}
