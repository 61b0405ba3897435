/**
 * ListContainers, answered from memory.
 *
 * @module
 */
import type { ListContainersRequest, ListContainersResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { listContainers as list } from "../../runtime/container/list.ts";
import { containerFilter } from "../filters.ts";

/** The ListContainers handler. */
export function listContainers(
  core: RuntimeCore,
): (req: ListContainersRequest) => Promise<ListContainersResponse> {
  return (req: ListContainersRequest): Promise<ListContainersResponse> =>
    Promise.resolve({ containers: list(core, containerFilter(req.filter)) });
}
