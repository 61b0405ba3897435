/**
 * PodSandboxStatus: the CRI status of a pod and of its containers, answered from memory;
 * `verbose` adds containerd's "info" document.
 *
 * @module
 */
import {
  type ContainerStatus,
  NamespaceMode,
  PodSandboxState,
  type PodSandboxStatus,
} from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import type { Sandbox } from "../records.ts";
import { containerStatusOf } from "../container/status.ts";

/** The CRI state of each pod state. */
export const SANDBOX_STATE = {
  ready: PodSandboxState.SANDBOX_READY,
  notready: PodSandboxState.SANDBOX_NOTREADY,
};

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

/** The CRI status of a pod (also carried by events). */
export function podStatusOf(s: Sandbox): PodSandboxStatus {
  const ns = s.config.linux?.securityContext?.namespaceOptions;
  const [ip, ...more] = s.doc.network.ips;
  return {
    id: s.doc.id,
    metadata: s.config.metadata,
    state: SANDBOX_STATE[s.doc.state],
    createdAt: BigInt(s.doc.createdAtNs),
    network: { ip: ip ?? "", additionalIps: more.map((ip) => ({ ip })) },
    linux: {
      namespaces: {
        options: {
          network: ns?.network ?? NamespaceMode.POD,
          pid: ns?.pid ?? NamespaceMode.CONTAINER,
          ipc: ns?.ipc ?? NamespaceMode.POD,
          targetId: ns?.targetId ?? "",
          usernsOptions: ns?.usernsOptions,
        },
      },
    },
    labels: s.config.labels,
    annotations: s.config.annotations,
    runtimeHandler: s.doc.runtimeHandler,
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
