/**
 * PodSandboxStatus, answered from memory.
 *
 * @module
 */
import type { PodSandboxStatusRequest, PodSandboxStatusResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { podSandboxStatus as status } from "../../runtime/pod/status.ts";
import { nowNs } from "../../lib/clock.ts";
import { id } from "../validate.ts";

/** The PodSandboxStatus handler. */
export function podSandboxStatus(
  core: RuntimeCore,
): (req: PodSandboxStatusRequest) => Promise<PodSandboxStatusResponse> {
  return (req: PodSandboxStatusRequest): Promise<PodSandboxStatusResponse> => {
    const r = status(core, id(req.podSandboxId, "pod_sandbox_id"), req.verbose);
    return Promise.resolve({
      status: r.status,
      info: r.info,
      containersStatuses: r.containers,
      timestamp: nowNs(),
    });
  };
}
