/**
 * ContainerStatus and ListContainers, answered from memory.
 *
 * @module
 */
import type {
  ContainerStatusRequest,
  ContainerStatusResponse,
  ListContainersRequest,
  ListContainersResponse,
} from "../../api/gen/api.ts";
import type { Runtime } from "../../runtime/mod.ts";
import { id } from "../validate.ts";

/** The ContainerStatus handler. */
export function containerStatus(
  rt: Runtime,
): (req: ContainerStatusRequest) => Promise<ContainerStatusResponse> {
  return async (req: ContainerStatusRequest): Promise<ContainerStatusResponse> => {
    const r = await rt.containerStatus(id(req.containerId, "container_id"), req.verbose);
    return { status: r.status, info: r.info };
  };
}

/** The ListContainers handler. */
export function listContainers(
  rt: Runtime,
): (req: ListContainersRequest) => Promise<ListContainersResponse> {
  return (req: ListContainersRequest): Promise<ListContainersResponse> =>
    Promise.resolve({ containers: rt.listContainers(req.filter) });
}
