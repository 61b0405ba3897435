/**
 * ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats.
 *
 * @module
 */
import type {
  ContainerStatsRequest,
  ContainerStatsResponse,
  ListContainerStatsRequest,
  ListContainerStatsResponse,
  ListPodSandboxStatsRequest,
  ListPodSandboxStatsResponse,
  PodSandboxStatsRequest,
  PodSandboxStatsResponse,
} from "../../api/gen/api.ts";
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

/** The ListContainerStats handler. */
export function listContainerStats(
  stats: StatsService,
): (req: ListContainerStatsRequest) => Promise<ListContainerStatsResponse> {
  return async (req: ListContainerStatsRequest): Promise<ListContainerStatsResponse> => ({
    stats: await stats.listContainerStats(req.filter),
  });
}

/** The PodSandboxStats handler. */
export function podSandboxStats(
  stats: StatsService,
): (req: PodSandboxStatsRequest) => Promise<PodSandboxStatsResponse> {
  return async (req: PodSandboxStatsRequest): Promise<PodSandboxStatsResponse> => ({
    stats: await stats.podSandboxStats(id(req.podSandboxId, "pod_sandbox_id")),
  });
}

/** The ListPodSandboxStats handler. */
export function listPodSandboxStats(
  stats: StatsService,
): (req: ListPodSandboxStatsRequest) => Promise<ListPodSandboxStatsResponse> {
  return async (req: ListPodSandboxStatsRequest): Promise<ListPodSandboxStatsResponse> => ({
    stats: await stats.listPodSandboxStats(req.filter),
  });
}
