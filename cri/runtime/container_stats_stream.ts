/**
 * StreamContainerStats (KEP-5825): ListContainerStats' readings, same filter, in bounded
 * batches. The whole list is read first (one snapshot), then cut.
 *
 * @module
 */
import {
  ContainerStats,
  type StreamContainerStatsRequest,
  type StreamContainerStatsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { type BatchLimits, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";

/** The StreamContainerStats handler. */
export function streamContainerStats(
  stats: StatsService,
  limits: BatchLimits,
): StreamHandler<StreamContainerStatsRequest, StreamContainerStatsResponse> {
  return async (
    req: StreamContainerStatsRequest,
    ctx: HandlerContext,
    send: (msg: StreamContainerStatsResponse) => Promise<void>,
  ): Promise<void> =>
    await sendInBatches(
      await stats.listContainerStats(req.filter),
      (s) => ContainerStats.encode(s).finish().length,
      limits,
      ctx.signal,
      (containerStats) => send({ containerStats }),
    );
}
