/**
 * StreamPodSandboxStats (KEP-5825): ListPodSandboxStats' readings, same filter, in bounded
 * batches. The whole list is read first (one snapshot), then cut.
 *
 * @module
 */
import {
  type StreamPodSandboxStatsRequest,
  StreamPodSandboxStatsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { type BatchLimits, type PreEncoded, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";

/** The StreamPodSandboxStats handler. */
export function streamPodSandboxStats(
  stats: StatsService,
  limits: BatchLimits,
): StreamHandler<StreamPodSandboxStatsRequest, StreamPodSandboxStatsResponse> {
  return async (
    req: StreamPodSandboxStatsRequest,
    ctx: HandlerContext,
    send: (msg: StreamPodSandboxStatsResponse | PreEncoded) => Promise<void>,
  ): Promise<void> =>
    await sendInBatches(
      StreamPodSandboxStatsResponse.encode({
        podSandboxStats: await stats.listPodSandboxStats(req.filter),
      }).finish(),
      limits,
      ctx.signal,
      send,
    );
}
