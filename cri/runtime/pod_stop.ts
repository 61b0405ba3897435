/**
 * StopPodSandbox: idempotent for known pods; unknown ids are NOT_FOUND, as in containerd.
 *
 * @module
 */
import type { StopPodSandboxRequest, StopPodSandboxResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { stopPodSandbox as stop } from "../../runtime/pod/stop.ts";
import { id } from "../validate.ts";

/** The StopPodSandbox handler. */
export function stopPodSandbox(
  core: RuntimeCore,
): (req: StopPodSandboxRequest) => Promise<StopPodSandboxResponse> {
  return async (req: StopPodSandboxRequest): Promise<StopPodSandboxResponse> => {
    await stop(core, id(req.podSandboxId, "pod_sandbox_id"));
    return {};
  };
}
