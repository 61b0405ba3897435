/**
 * PodSandboxStatus: the CRI status of a pod and of its containers (`views.ts`), answered
 * from memory; `verbose` adds containerd's "info" document.
 *
 * @module
 */
import type {
  ContainerStatus,
  LinuxContainerResources,
  PodSandboxStatus,
} from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import { decodeResources, type Sandbox } from "../records.ts";
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
      // The CRI's PodSandboxStatus has no resources field: the pod-level resources in force
      // (UpdatePodSandboxResources, else the config's) are reported here.
      podResources: podResourcesOf(s),
    }),
  };
}

function podResourcesOf(s: Sandbox): { overhead: unknown; resources: unknown } {
  const pr = s.doc.podResources;
  const decode = (b: string | undefined) => (b ? decodeResources(b) : undefined);
  const overhead = pr ? decode(pr.overhead) : s.config.linux?.overhead;
  const resources = pr ? decode(pr.resources) : s.config.linux?.resources;
  return { overhead: resourcesJson(overhead), resources: resourcesJson(resources) };
}

/** LinuxContainerResources as JSON (int64s as numbers, as the CRI's JSON mapping reads). */
function resourcesJson(r: LinuxContainerResources | undefined): unknown {
  if (!r) return null;
  return {
    cpuPeriod: Number(r.cpuPeriod),
    cpuQuota: Number(r.cpuQuota),
    cpuShares: Number(r.cpuShares),
    memoryLimitInBytes: Number(r.memoryLimitInBytes),
    oomScoreAdj: Number(r.oomScoreAdj),
    cpusetCpus: r.cpusetCpus,
    cpusetMems: r.cpusetMems,
    hugepageLimits: r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: Number(h.limit) })),
    unified: r.unified,
    memorySwapLimitInBytes: Number(r.memorySwapLimitInBytes),
  };
}
