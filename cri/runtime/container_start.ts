/**
 * StartContainer, StopContainer and RemoveContainer.
 *
 * @module
 */
import type {
  RemoveContainerRequest,
  RemoveContainerResponse,
  StartContainerRequest,
  StartContainerResponse,
  StopContainerRequest,
  StopContainerResponse,
} from "../../api/gen/api.ts";
import type { Runtime } from "../../runtime/mod.ts";
import { id, inRange } from "../validate.ts";

/** The StartContainer handler. */
export function startContainer(
  rt: Runtime,
): (req: StartContainerRequest) => Promise<StartContainerResponse> {
  return async (req: StartContainerRequest): Promise<StartContainerResponse> => {
    await rt.startContainer(id(req.containerId, "container_id"));
    return {};
  };
}

/** The StopContainer handler (timeout in seconds; 0 kills at once; idempotent). */
export function stopContainer(
  rt: Runtime,
): (req: StopContainerRequest) => Promise<StopContainerResponse> {
  return async (req: StopContainerRequest): Promise<StopContainerResponse> => {
    const timeout = inRange(req.timeout, 0, 2 ** 31 - 1, "timeout");
    await rt.stopContainer(id(req.containerId, "container_id"), timeout);
    return {};
  };
}

/** The RemoveContainer handler (idempotent; unknown ids succeed). */
export function removeContainer(
  rt: Runtime,
): (req: RemoveContainerRequest) => Promise<RemoveContainerResponse> {
  return async (req: RemoveContainerRequest): Promise<RemoveContainerResponse> => {
    await rt.removeContainer(id(req.containerId, "container_id"));
    return {};
  };
}
