/**
 * ContainerStatus, answered from memory.
 *
 * @module
 */
import type { ContainerStatusRequest, ContainerStatusResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { containerStatus as status } from "../../runtime/container/status.ts";
import { id } from "../validate.ts";

/** The ContainerStatus handler. */
export function containerStatus(
  core: RuntimeCore,
): (req: ContainerStatusRequest) => Promise<ContainerStatusResponse> {
  return async (req: ContainerStatusRequest): Promise<ContainerStatusResponse> => {
    const r = await status(core, id(req.containerId, "container_id"), req.verbose);
    return { status: r.status, info: r.info };
  };
}
