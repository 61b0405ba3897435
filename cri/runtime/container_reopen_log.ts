/**
 * ReopenContainerLog: the kubelet rotated the container's log.
 *
 * @module
 */
import type { ReopenContainerLogRequest, ReopenContainerLogResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { reopenContainerLog as reopen } from "../../runtime/container/reopen_log.ts";
import { id } from "../validate.ts";

/** The ReopenContainerLog handler. */
export function reopenContainerLog(
  core: RuntimeCore,
): (req: ReopenContainerLogRequest) => Promise<ReopenContainerLogResponse> {
  return async (req: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> => {
    await reopen(core, id(req.containerId, "container_id"));
    return {};
  };
}
