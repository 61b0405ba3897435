/**
 * StreamPodSandboxMetrics (KEP-5825): ListPodSandboxMetrics' answer in bounded batches. The
 * whole list is read first (one snapshot), then cut.
 *
 * @module
 */
import {
  type StreamPodSandboxMetricsRequest,
  StreamPodSandboxMetricsResponse,
} from "../../api/gen/api.ts";
import type { StatsService } from "../../runtime/stats.ts";
import { type BatchLimits, type PreEncoded, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";

/** The StreamPodSandboxMetrics handler. */
export function streamPodSandboxMetrics(
  stats: StatsService,
  limits: BatchLimits,
): StreamHandler<StreamPodSandboxMetricsRequest, StreamPodSandboxMetricsResponse> {
  return async (
    _req: StreamPodSandboxMetricsRequest,
    ctx: HandlerContext,
    send: (msg: StreamPodSandboxMetricsResponse | PreEncoded) => Promise<void>,
  ): Promise<void> =>
    await sendInBatches(
      StreamPodSandboxMetricsResponse.encode({
        podSandboxMetrics: await stats.listPodSandboxMetrics(),
      }).finish(),
      limits,
      ctx.signal,
      send,
    );
}
