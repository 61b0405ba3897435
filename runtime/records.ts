/**
 * The persisted shape of pods and containers, and their in-memory objects.
 *
 * A record carries everything needed to undo or finish its operation after a crash: the
 * `phase` is the intent (`creating`: roll back; `removing`: roll forward), and every path,
 * mount and namespace the operation made is named in it. CRI configs are kept as their
 * protobuf encoding, so no field is lost and nothing needs a JSON schema of its own.
 *
 * @module
 */
import { ContainerConfig, LinuxContainerResources, PodSandboxConfig } from "../api/gen/api.ts";
import type { ShimHandle } from "../shim/client/mod.ts";
import { fromBase64, toBase64 } from "../lib/base64.ts";

/** Where an operation on a record stands; see the module doc. */
export type Phase = "creating" | "ready" | "removing";

/** Pod sandbox state as the CRI knows it. */
export type SandboxState = "ready" | "notready";

/** The pod record stored in the metadata store. */
export interface SandboxDoc {
  id: string;
  /** base64 protobuf of the PodSandboxConfig. */
  config: string;
  /** RunPodSandbox's runtime_handler as the kubelet sent it ("" for the default). */
  runtimeHandler: string;
  /** The handler it resolved to (absent in records from before handlers: the default). */
  handler?: string | undefined;
  createdAtNs: string;
  state: SandboxState;
  phase: Phase;
  /** Namespace modes: true when the pod uses the node's namespace. */
  hostNetwork: boolean;
  hostIpc: boolean;
  /** "pod": one shared PID namespace (pause container); "container": one per container; "node". */
  pidMode: "pod" | "container" | "node";
  /** Pinned namespace files (absent when the node's namespace is used). */
  ns: { dir: string; user?: string; net?: string; ipc?: string; uts?: string };
  /** The pod's user namespace mapping (uids and gids alike), when it has one. */
  userns?: { hostId: number; length: number } | undefined;
  /** The pod's own files, bind-mounted into its containers. */
  files: { dir: string; hostname: string; hosts: string; resolvConf: string };
  /** The pod's /dev/shm (a tmpfs), absent with host IPC. */
  shm?: { path: string; mounted: boolean } | undefined;
  /** The cgroup parent as the kubelet named it (or sauropod's default for the pod). */
  cgroupParent: string;
  /** The cgroup directories sauropod created for the pod (removed with it). */
  ownedCgroup?: { path: string; created: string[] } | undefined;
  /** CNI state: whether ADD ran (so DEL must), and the IPs it gave. */
  network: { attached: boolean; ips: string[] };
  /**
   * Pod-level resources of the last UpdatePodSandboxResources (base64 protobuf of
   * LinuxContainerResources each), as written into the pod cgroup.
   */
  podResources?: { overhead?: string; resources?: string } | undefined;
  /** The sandbox (pause) container, when the pod shares one PID namespace. */
  pause?: { containerId: string; imageId: string; bundle: string; pid: number } | undefined;
}

/** Container state as the CRI knows it. */
export type ContainerState = "created" | "running" | "exited" | "unknown";

/** The container record stored in the metadata store. */
export interface ContainerDoc {
  id: string;
  sandboxId: string;
  /** The runtime handler of its pod (absent in records from before handlers: the default). */
  handler?: string | undefined;
  /** base64 protobuf of the ContainerConfig. */
  config: string;
  /** The image as the config named it, and what it resolved to. */
  imageName: string;
  imageId: string;
  imageRef: string;
  createdAtNs: string;
  startedAtNs: string;
  finishedAtNs: string;
  exitCode: number;
  reason: string;
  message: string;
  state: ContainerState;
  phase: Phase;
  bundle: string;
  rootfs: string;
  /** The overlay upper dir (the writable layer, for its disk usage). */
  upperDir?: string | undefined;
  /** Absolute path of the CRI log file, or "" when the kubelet asked for none. */
  logPath: string;
  cgroupsPath: string;
  stopSignal: string;
  /** The user the container's process runs as (from its spec). */
  user?: { uid: number; gid: number; additionalGids: number[] } | undefined;
  pid: number;
  /** base64 protobuf of LinuxContainerResources after UpdateContainerResources. */
  resources?: string;
  /**
   * The image volumes (`Mount.image`): which image each mount of the config resolved to,
   * and where it is mounted (under `<bundle>/volumes/`). Recorded before they are
   * mounted; they pin their images for the container's life.
   */
  imageVolumes?: ImageVolume[] | undefined;
}

/** One image volume of a container. */
export interface ImageVolume {
  /** Index in the config's mounts. */
  mount: number;
  imageId: string;
  /** The read-only mount the container's bind mount comes from. */
  path: string;
}

/** A pod in memory. */
export interface Sandbox {
  doc: SandboxDoc;
  config: PodSandboxConfig;
  nameKey: string;
  /** The pause container's shim, when there is one and it is connected. */
  pauseShim?: ShimHandle | undefined;
}

/** A container in memory. */
export interface Container {
  doc: ContainerDoc;
  config: ContainerConfig;
  nameKey: string;
  resources?: LinuxContainerResources | undefined;
  shim?: ShimHandle | undefined;
  /** Settles once the container's exit is recorded (see container/exit.ts). */
  exited?: Promise<void> | undefined;
}

/** Encodes a PodSandboxConfig for the record. */
export function encodeSandboxConfig(c: PodSandboxConfig): string {
  return toBase64(PodSandboxConfig.encode(c).finish());
}
/** Decodes a PodSandboxConfig from the record. */
export function decodeSandboxConfig(s: string): PodSandboxConfig {
  return PodSandboxConfig.decode(fromBase64(s));
}
/** Encodes a ContainerConfig for the record. */
export function encodeContainerConfig(c: ContainerConfig): string {
  return toBase64(ContainerConfig.encode(c).finish());
}
/** Decodes a ContainerConfig from the record. */
export function decodeContainerConfig(s: string): ContainerConfig {
  return ContainerConfig.decode(fromBase64(s));
}
/** Encodes LinuxContainerResources for the record. */
export function encodeResources(r: LinuxContainerResources): string {
  return toBase64(LinuxContainerResources.encode(r).finish());
}
/** Decodes LinuxContainerResources from the record. */
export function decodeResources(s: string): LinuxContainerResources {
  return LinuxContainerResources.decode(fromBase64(s));
}
