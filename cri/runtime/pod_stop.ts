/**
 * StopPodSandbox and RemovePodSandbox.
 *
 * @module
 */
import type {
  RemovePodSandboxRequest,
  RemovePodSandboxResponse,
  StopPodSandboxRequest,
  StopPodSandboxResponse,
} from "../../api/gen/api.ts";
import type { Runtime } from "../../runtime/mod.ts";
import { id } from "../validate.ts";

/** The StopPodSandbox handler (idempotent for known pods; unknown ids are NOT_FOUND). */
export function stopPodSandbox(
  rt: Runtime,
): (req: StopPodSandboxRequest) => Promise<StopPodSandboxResponse> {
  return async (req: StopPodSandboxRequest): Promise<StopPodSandboxResponse> => {
    await rt.stopPodSandbox(id(req.podSandboxId, "pod_sandbox_id"));
    return {};
  };
}

/** The RemovePodSandbox handler (idempotent; unknown ids succeed). */
export function removePodSandbox(
  rt: Runtime,
): (req: RemovePodSandboxRequest) => Promise<RemovePodSandboxResponse> {
  return async (req: RemovePodSandboxRequest): Promise<RemovePodSandboxResponse> => {
    await rt.removePodSandbox(id(req.podSandboxId, "pod_sandbox_id"));
    return {};
  };
}
