/**
 * CRI views of pods and containers: PodSandboxStatus, PodSandbox, ContainerStatus and
 * Container messages, and the list filters. Answered from memory, never by asking shims
 * (per-request fan-out to shims is what melts nodes at density: containerd#7246).
 *
 * @module
 */
import {
  type Container as CriContainer,
  type ContainerFilter,
  ContainerState,
  type ContainerStatus,
  type ImageSpec,
  type Mount,
  NamespaceMode,
  type PodSandbox,
  type PodSandboxFilter,
  PodSandboxState,
  type PodSandboxStatus,
  Signal,
} from "../api/gen/api.ts";
import type { RuntimeCore } from "./core.ts";
import type { Container, Sandbox } from "./records.ts";
import { resolvePrefix } from "./ids.ts";

const SANDBOX_STATE = {
  ready: PodSandboxState.SANDBOX_READY,
  notready: PodSandboxState.SANDBOX_NOTREADY,
};
const CONTAINER_STATE = {
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
  unknown: ContainerState.CONTAINER_UNKNOWN,
};

/** The CRI status of a pod. */
export function podSandboxStatus(s: Sandbox): PodSandboxStatus {
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
export function podSandboxInfo(s: Sandbox): Record<string, string> {
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

/** The CRI list entry of a pod. */
export function podSandboxItem(s: Sandbox): PodSandbox {
  return {
    id: s.doc.id,
    metadata: s.config.metadata,
    state: SANDBOX_STATE[s.doc.state],
    createdAt: BigInt(s.doc.createdAtNs),
    labels: s.config.labels,
    annotations: s.config.annotations,
    runtimeHandler: s.doc.runtimeHandler,
  };
}

/** Pods matching `filter` (id prefix, state, every label of the selector). */
export function listPodSandboxes(core: RuntimeCore, filter?: PodSandboxFilter): PodSandbox[] {
  let items = [...core.sandboxes.values()].filter((s) => s.doc.phase !== "creating");
  if (filter?.id) {
    const id = resolvePrefix(filter.id, items.map((s) => s.doc.id));
    items = id && id !== "ambiguous" ? items.filter((s) => s.doc.id === id) : [];
  }
  if (filter?.state) {
    items = items.filter((s) => SANDBOX_STATE[s.doc.state] === filter.state!.state);
  }
  const sel = Object.entries(filter?.labelSelector ?? {});
  if (sel.length) items = items.filter((s) => sel.every(([k, v]) => s.config.labels[k] === v));
  return items.map(podSandboxItem);
}

/** The CRI Signal enum value of a signal name (`SIGTERM` → SIGNAL_SIGTERM), 0 when unknown. */
function criSignal(name: string): Signal {
  const key = `SIGNAL_${
    name.toUpperCase().startsWith("SIG") ? name.toUpperCase() : `SIG${name.toUpperCase()}`
  }`;
  const v = (Signal as unknown as Record<string, number>)[key];
  return typeof v === "number" ? v : Signal.SIGNAL_RUNTIME_DEFAULT;
}

function imageSpec(c: Container): ImageSpec {
  const i = c.config.image;
  return {
    image: c.doc.imageName,
    annotations: i?.annotations ?? {},
    userSpecifiedImage: i?.userSpecifiedImage ?? "",
    runtimeHandler: i?.runtimeHandler ?? "",
    imageRef: c.doc.imageId,
  };
}

function criMounts(c: Container): Mount[] {
  return c.config.mounts;
}

/** The CRI status of a container. */
export function containerStatus(c: Container): ContainerStatus {
  return {
    id: c.doc.id,
    metadata: c.config.metadata,
    state: CONTAINER_STATE[c.doc.state],
    createdAt: BigInt(c.doc.createdAtNs),
    startedAt: BigInt(c.doc.startedAtNs),
    finishedAt: BigInt(c.doc.finishedAtNs),
    exitCode: c.doc.exitCode,
    image: imageSpec(c),
    imageRef: c.doc.imageRef,
    reason: c.doc.reason,
    message: c.doc.message,
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: criMounts(c),
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

/** The CRI list entry of a container. */
export function containerItem(c: Container): CriContainer {
  return {
    id: c.doc.id,
    podSandboxId: c.doc.sandboxId,
    metadata: c.config.metadata,
    image: imageSpec(c),
    imageRef: c.doc.imageRef,
    state: CONTAINER_STATE[c.doc.state],
    createdAt: BigInt(c.doc.createdAtNs),
    labels: c.config.labels,
    annotations: c.config.annotations,
    imageId: c.doc.imageId,
  };
}

/** Containers matching `filter` (id prefix, pod id prefix, state, labels). */
export function listContainers(core: RuntimeCore, filter?: ContainerFilter): CriContainer[] {
  let items = [...core.containers.values()].filter((c) => c.doc.phase !== "creating");
  if (filter?.id) {
    const id = resolvePrefix(filter.id, items.map((c) => c.doc.id));
    items = id && id !== "ambiguous" ? items.filter((c) => c.doc.id === id) : [];
  }
  if (filter?.podSandboxId) {
    const pod = resolvePrefix(filter.podSandboxId, core.sandboxes.keys());
    items = pod && pod !== "ambiguous" ? items.filter((c) => c.doc.sandboxId === pod) : [];
  }
  if (filter?.state) {
    items = items.filter((c) => CONTAINER_STATE[c.doc.state] === filter.state!.state);
  }
  const sel = Object.entries(filter?.labelSelector ?? {});
  if (sel.length) items = items.filter((c) => sel.every(([k, v]) => c.config.labels[k] === v));
  return items.map(containerItem);
}
