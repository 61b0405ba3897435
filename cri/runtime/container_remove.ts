/**
 * RemoveContainer: idempotent, unknown ids succeed.
 *
 * @module
 */
import type { RemoveContainerRequest, RemoveContainerResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { removeContainer as remove } from "../../runtime/container/remove.ts";
import { id } from "../validate.ts";

/** The RemoveContainer handler. */
export function removeContainer(
  core: RuntimeCore,
): (req: RemoveContainerRequest) => Promise<RemoveContainerResponse> {
  return async (req: RemoveContainerRequest): Promise<RemoveContainerResponse> => {
    await remove(core, id(req.containerId, "container_id"));
    return {};
  };
}
