/**
 * StreamPodSandboxes (KEP-5825): ListPodSandbox's list, same filter, in bounded batches.
 *
 * @module
 */
import { type StreamPodSandboxesRequest, StreamPodSandboxesResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { listPodSandboxes as list } from "../../runtime/pod/list.ts";
import { type BatchLimits, type PreEncoded, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";
import { podFilter } from "../filters.ts";

/** The StreamPodSandboxes handler. */
export function streamPodSandboxes(
  core: RuntimeCore,
  limits: BatchLimits,
): StreamHandler<StreamPodSandboxesRequest, StreamPodSandboxesResponse> {
  return (
    req: StreamPodSandboxesRequest,
    ctx: HandlerContext,
    send: (msg: StreamPodSandboxesResponse | PreEncoded) => Promise<void>,
  ): Promise<void> =>
    sendInBatches(
      StreamPodSandboxesResponse.encode({ podSandboxes: list(core, podFilter(req.filter)) })
        .finish(),
      limits,
      ctx.signal,
      send,
    );
}
