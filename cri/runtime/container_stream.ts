/**
 * StreamContainers (KEP-5825): ListContainers' list, same filter, in bounded batches.
 *
 * @module
 */
import { type StreamContainersRequest, StreamContainersResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { listContainers as list } from "../../runtime/container/list.ts";
import { type BatchLimits, type PreEncoded, sendInBatches } from "../batches.ts";
import type { HandlerContext, StreamHandler } from "../context.ts";
import { containerFilter } from "../filters.ts";

/** The StreamContainers handler. */
export function streamContainers(
  core: RuntimeCore,
  limits: BatchLimits,
): StreamHandler<StreamContainersRequest, StreamContainersResponse> {
  return (
    req: StreamContainersRequest,
    ctx: HandlerContext,
    send: (msg: StreamContainersResponse | PreEncoded) => Promise<void>,
  ): Promise<void> =>
    sendInBatches(
      StreamContainersResponse.encode({ containers: list(core, containerFilter(req.filter)) })
        .finish(),
      limits,
      ctx.signal,
      send,
    );
}
