/**
 * UpdatePodSandboxResources: pod-level resources written into the pod cgroup.
 *
 * @module
 */
import type {
  UpdatePodSandboxResourcesRequest,
  UpdatePodSandboxResourcesResponse,
} from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { updatePodSandboxResources as update } from "../../runtime/pod/update_resources.ts";
import { id } from "../validate.ts";

/** The UpdatePodSandboxResources handler. */
export function updatePodSandboxResources(
  core: RuntimeCore,
): (req: UpdatePodSandboxResourcesRequest) => Promise<UpdatePodSandboxResourcesResponse> {
  return async (
    req: UpdatePodSandboxResourcesRequest,
  ): Promise<UpdatePodSandboxResourcesResponse> => {
    await update(core, id(req.podSandboxId, "pod_sandbox_id"), req.overhead, req.resources);
    return {};
  };
}
