/**
 * RemovePodSandbox: idempotent, unknown ids succeed.
 *
 * @module
 */
import type { RemovePodSandboxRequest, RemovePodSandboxResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { removePodSandbox as remove } from "../../runtime/pod/remove.ts";
import { id } from "../validate.ts";

/** The RemovePodSandbox handler. */
export function removePodSandbox(
  core: RuntimeCore,
): (req: RemovePodSandboxRequest) => Promise<RemovePodSandboxResponse> {
  return async (req: RemovePodSandboxRequest): Promise<RemovePodSandboxResponse> => {
    await remove(core, id(req.podSandboxId, "pod_sandbox_id"));
    return {};
  };
}
