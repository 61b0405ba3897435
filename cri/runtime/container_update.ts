/**
 * UpdateContainerResources: new resources applied live.
 *
 * @module
 */
import type {
  UpdateContainerResourcesRequest,
  UpdateContainerResourcesResponse,
} from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { updateContainerResources as update } from "../../runtime/container/update.ts";
import { id } from "../validate.ts";

/** The UpdateContainerResources handler. */
export function updateContainerResources(
  core: RuntimeCore,
): (req: UpdateContainerResourcesRequest) => Promise<UpdateContainerResourcesResponse> {
  return async (
    req: UpdateContainerResourcesRequest,
  ): Promise<UpdateContainerResourcesResponse> => {
    await update(core, id(req.containerId, "container_id"), req.linux);
    return {};
  };
}
