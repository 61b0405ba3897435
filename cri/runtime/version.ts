/**
 * Version: the first call of crictl and the kubelet.
 *
 * @module
 */
import type { VersionRequest, VersionResponse } from "../../api/gen/api.ts";
import { CRI_API_VERSION, KUBE_API_VERSION, RUNTIME_NAME, VERSION } from "../../version.ts";

/** Answers with sauropod's name and versions; the request's version is informational. */
export function version(_req: VersionRequest): Promise<VersionResponse> {
  return Promise.resolve({
    version: KUBE_API_VERSION,
    runtimeName: RUNTIME_NAME,
    runtimeVersion: VERSION,
    runtimeApiVersion: CRI_API_VERSION,
  });
}
