/**
 * StreamPodSandboxStats (KEP-5825): ListPodSandboxStats' readings, same filter, in bounded
 * batches. The whole list is read first (one snapshot), then cut.
 *
 * @module
 */
import {
  PodSandboxStats,
  type StreamPodSandboxStatsRequest,
  type StreamPodSandboxStatsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { type BatchLimits, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";

/** The StreamPodSandboxStats handler. */
export function streamPodSandboxStats(
  stats: StatsService,
  limits: BatchLimits,
): StreamHandler<StreamPodSandboxStatsRequest, StreamPodSandboxStatsResponse> {
  return async (
    req: StreamPodSandboxStatsRequest,
    ctx: HandlerContext,
    send: (msg: StreamPodSandboxStatsResponse) => Promise<void>,
  ): Promise<void> =>
    await sendInBatches(
      await stats.listPodSandboxStats(req.filter),
      (s) => PodSandboxStats.encode(s).finish().length,
      limits,
      ctx.signal,
      (podSandboxStats) => send({ podSandboxStats }),
    );
}
