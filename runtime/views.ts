/**
 * The CRI messages of the records: a container's and a pod's status as ContainerStatus,
 * PodSandboxStatus, the lists and the events carry them. Answered from memory, never by
 * asking a shim (per-request fan-out to shims is what melts nodes at density:
 * containerd#7246).
 *
 * @module
 */
import {
  ContainerState,
  type ContainerStatus,
  type ImageSpec,
  type Mount,
  NamespaceMode,
  PodSandboxState,
  type PodSandboxStatus,
} from "../api/gen/api.ts";
import { criSignal } from "./stop_signal.ts";
import type { Container, Sandbox } from "./records.ts";

/** The CRI state of each container state. */
export const CONTAINER_STATE = {
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
  unknown: ContainerState.CONTAINER_UNKNOWN,
};

/** The CRI image spec of a container. */
export function imageSpecOf(c: Container): ImageSpec {
  const i = c.config.image;
  return {
    image: c.doc.imageName,
    annotations: i?.annotations ?? {},
    userSpecifiedImage: i?.userSpecifiedImage ?? "",
    runtimeHandler: i?.runtimeHandler ?? "",
    imageRef: c.doc.imageId,
  };
}

/**
 * The container's mounts as configured; an image volume's `image.image_ref` says which
 * image it mounted (KEP-5365: the id PullImage answered).
 */
function mountsOf(c: Container): Mount[] {
  const vols = c.doc.imageVolumes;
  if (!vols?.length) return c.config.mounts;
  return c.config.mounts.map((m, i) => {
    const v = vols.find((v) => v.mount === i);
    return v && m.image ? { ...m, image: { ...m.image, imageRef: v.imageId } } : m;
  });
}

/** The CRI status of a container (also carried by events and PodSandboxStatus). */
export function containerStatusOf(c: Container): ContainerStatus {
  return {
    id: c.doc.id,
    metadata: c.config.metadata,
    state: CONTAINER_STATE[c.doc.state],
    createdAt: BigInt(c.doc.createdAtNs),
    startedAt: BigInt(c.doc.startedAtNs),
    finishedAt: BigInt(c.doc.finishedAtNs),
    exitCode: c.doc.exitCode,
    image: imageSpecOf(c),
    // The id, also for records written when image_ref was a repo digest.
    imageRef: c.doc.imageId,
    reason: c.doc.reason,
    message: c.doc.message,
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: mountsOf(c),
    logPath: c.doc.logPath,
    resources: c.resources
      ? { linux: c.resources, windows: undefined }
      : c.config.linux?.resources
      ? { linux: c.config.linux.resources, windows: undefined }
      : undefined,
    imageId: c.doc.imageId,
    user: c.doc.user
      ? {
        linux: {
          uid: BigInt(c.doc.user.uid),
          gid: BigInt(c.doc.user.gid),
          supplementalGroups: c.doc.user.additionalGids.map(BigInt),
        },
      }
      : undefined,
    stopSignal: criSignal(c.doc.stopSignal),
  };
}

/** The CRI state of each pod state. */
export const SANDBOX_STATE = {
  ready: PodSandboxState.SANDBOX_READY,
  notready: PodSandboxState.SANDBOX_NOTREADY,
};

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
