/**
 * PodSandboxStatus: the CRI status of a pod and of its containers (`views.ts`), answered
 * from memory; `verbose` adds containerd's "info" document.
 *
 * @module
 */
import type { ContainerStatus, PodSandboxStatus } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import type { Sandbox } from "../records.ts";
import { containerStatusOf, podStatusOf } from "../views.ts";

/** PodSandboxStatus of pod `id` (or a unique prefix), with the info map when `verbose`. */
export function podSandboxStatus(
  core: RuntimeCore,
  id: string,
  verbose: boolean,
): { status: PodSandboxStatus; info: Record<string, string>; containers: ContainerStatus[] } {
  const s = core.sandbox(id);
  return {
    status: podStatusOf(s),
    info: verbose ? podInfoOf(s) : {},
    containers: core.containersOf(s.doc.id).map(containerStatusOf),
  };
}

/** The verbose info of a pod (containerd puts one JSON document under "info"). */
function podInfoOf(s: Sandbox): Record<string, string> {
  return {
    info: JSON.stringify({
      pid: s.doc.pause?.pid ?? 0,
      pidMode: s.doc.pidMode,
      namespaces: s.doc.ns,
      cgroupParent: s.doc.cgroupParent,
      runtimeHandler: s.doc.runtimeHandler,
      pause: s.doc.pause ? { image: s.doc.pause.imageId, bundle: s.doc.pause.bundle } : null,
      files: s.doc.files,
      shm: s.doc.shm?.path ?? null,
      ips: s.doc.network.ips,
    }),
  };
}
