/**
 * StreamContainerStats (KEP-5825): ListContainerStats' readings, same filter, in bounded
 * batches. The whole list is read first (one snapshot), then cut.
 *
 * @module
 */
import {
  type StreamContainerStatsRequest,
  StreamContainerStatsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { type BatchLimits, type PreEncoded, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";

/** The StreamContainerStats handler. */
export function streamContainerStats(
  stats: StatsService,
  limits: BatchLimits,
): StreamHandler<StreamContainerStatsRequest, StreamContainerStatsResponse> {
  return async (
    req: StreamContainerStatsRequest,
    ctx: HandlerContext,
    send: (msg: StreamContainerStatsResponse | PreEncoded) => Promise<void>,
  ): Promise<void> =>
    await sendInBatches(
      StreamContainerStatsResponse.encode({
        containerStats: await stats.listContainerStats(req.filter),
      }).finish(),
      limits,
      ctx.signal,
      send,
    );
}
