/**
 * UpdateContainerResources and ReopenContainerLog.
 *
 * @module
 */
import type {
  ReopenContainerLogRequest,
  ReopenContainerLogResponse,
  UpdateContainerResourcesRequest,
  UpdateContainerResourcesResponse,
} from "../../api/gen/api.ts";
import type { Runtime } from "../../runtime/mod.ts";
import { id } from "../validate.ts";

/** The UpdateContainerResources handler. */
export function updateContainerResources(
  rt: Runtime,
): (req: UpdateContainerResourcesRequest) => Promise<UpdateContainerResourcesResponse> {
  return async (
    req: UpdateContainerResourcesRequest,
  ): Promise<UpdateContainerResourcesResponse> => {
    await rt.updateContainerResources(id(req.containerId, "container_id"), req.linux);
    return {};
  };
}

/** The ReopenContainerLog handler. */
export function reopenContainerLog(
  rt: Runtime,
): (req: ReopenContainerLogRequest) => Promise<ReopenContainerLogResponse> {
  return async (req: ReopenContainerLogRequest): Promise<ReopenContainerLogResponse> => {
    await rt.reopenContainerLog(id(req.containerId, "container_id"));
    return {};
  };
}
