/**
 * ListPodSandbox, answered from memory.
 *
 * @module
 */
import type { ListPodSandboxRequest, ListPodSandboxResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { listPodSandboxes as list } from "../../runtime/pod/list.ts";
import { podFilter } from "../filters.ts";

/** The ListPodSandbox handler. */
export function listPodSandbox(
  core: RuntimeCore,
): (req: ListPodSandboxRequest) => Promise<ListPodSandboxResponse> {
  return (req: ListPodSandboxRequest): Promise<ListPodSandboxResponse> =>
    Promise.resolve({ items: list(core, podFilter(req.filter)) });
}
