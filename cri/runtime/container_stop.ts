/**
 * StopContainer: the stop signal, then SIGKILL after the timeout (0 kills at once); idempotent.
 *
 * @module
 */
import type { StopContainerRequest, StopContainerResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { stopContainer as stop } from "../../runtime/container/stop.ts";
import { id, inRange } from "../validate.ts";

/** The StopContainer handler (timeout in seconds). */
export function stopContainer(
  core: RuntimeCore,
): (req: StopContainerRequest) => Promise<StopContainerResponse> {
  return async (req: StopContainerRequest): Promise<StopContainerResponse> => {
    const timeout = inRange(req.timeout, 0, 2 ** 31 - 1, "timeout");
    await stop(core, id(req.containerId, "container_id"), timeout);
    return {};
  };
}
