/**
 * PodSandboxStatus and ListPodSandbox, answered from memory.
 *
 * @module
 */
import type {
  ListPodSandboxRequest,
  ListPodSandboxResponse,
  PodSandboxStatusRequest,
  PodSandboxStatusResponse,
} from "../../api/gen/api.ts";
import type { Runtime } from "../../runtime/mod.ts";
import { id } from "../validate.ts";

/** The PodSandboxStatus handler. */
export function podSandboxStatus(
  rt: Runtime,
): (req: PodSandboxStatusRequest) => Promise<PodSandboxStatusResponse> {
  return (req: PodSandboxStatusRequest): Promise<PodSandboxStatusResponse> => {
    const r = rt.podSandboxStatus(id(req.podSandboxId, "pod_sandbox_id"), req.verbose);
    return Promise.resolve({
      status: r.status,
      info: r.info,
      containersStatuses: r.containers,
      timestamp: BigInt(Date.now()) * 1_000_000n,
    });
  };
}

/** The ListPodSandbox handler. */
export function listPodSandbox(
  rt: Runtime,
): (req: ListPodSandboxRequest) => Promise<ListPodSandboxResponse> {
  return (req: ListPodSandboxRequest): Promise<ListPodSandboxResponse> =>
    Promise.resolve({ items: rt.listPodSandbox(req.filter) });
}
