/**
 * StartContainer: `runc start` through the container's shim.
 *
 * @module
 */
import type { StartContainerRequest, StartContainerResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { startContainer as start } from "../../runtime/container/start.ts";
import { id } from "../validate.ts";

/** The StartContainer handler. */
export function startContainer(
  core: RuntimeCore,
): (req: StartContainerRequest) => Promise<StartContainerResponse> {
  return async (req: StartContainerRequest): Promise<StartContainerResponse> => {
    await start(core, id(req.containerId, "container_id"));
    return {};
  };
}
