/**
 * CheckpointContainer: CRIU dumps a running container into the archive at `location`; the
 * container keeps running.
 *
 * @module
 */
import type { CheckpointContainerRequest, CheckpointContainerResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { checkpointContainer as checkpoint } from "../../runtime/checkpoint/container.ts";
import { absolutePath, id, inRange } from "../validate.ts";

/** The CheckpointContainer handler. */
export function checkpointContainer(
  core: RuntimeCore,
): (req: CheckpointContainerRequest) => Promise<CheckpointContainerResponse> {
  return async (req) => {
    const containerId = id(req.containerId, "container_id");
    absolutePath(req.location, "location");
    const timeout = Number(req.timeout);
    inRange(timeout, 0, 24 * 3600, "timeout");
    await checkpoint(core, containerId, req.location, timeout);
    return {};
  };
}
