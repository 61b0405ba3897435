/**
 * Pod namespaces and networking.
 *
 * - {@link pinNamespaces} / {@link unpinNamespaces}: a pod's network, IPC and UTS
 *   namespaces, pinned as files under the state dir (no pause process), with the pod's
 *   hostname and namespaced sysctls applied inside.
 * - {@link CniManager}: CNI ADD/DEL through the plugins of the node's network config
 *   (spec 1.0, 0.3/0.4 results accepted), the `NetworkReady` condition, the pod CIDR.
 * - {@link readInterfaceStats}: per-interface counters of a pod's netns.
 * - {@link bandwidthFromAnnotations}: the pod's `kubernetes.io/*-bandwidth` annotations as
 *   the CNI `bandwidth` capability.
 *
 * @module
 */
export { CniManager, type CniManagerOptions, NETWORK_NOT_READY_REASON } from "./cni.ts";
export { CniPluginError } from "./_invoke.ts";
export {
  bandwidthFromAnnotations,
  EGRESS_BANDWIDTH_ANNOTATION,
  INGRESS_BANDWIDTH_ANNOTATION,
  parseBitsPerSecond,
} from "./bandwidth.ts";
export {
  isLiveNamespace,
  pinNamespaces,
  type PinnedNamespaces,
  type PinOptions,
  unpinNamespaces,
} from "./namespaces.ts";
export { readInterfaceStats } from "./stats.ts";
/** The interface CNI creates in every pod (`CNI_IFNAME`): the pod's default interface. */
export { POD_IFNAME } from "./_invoke.ts";
export type {
  InterfaceStats,
  NetworkInterface,
  NetworkStats,
  NetworkStatus,
  PodBandwidth,
  PodDns,
  PodNetworkRequest,
  PodNetworkResult,
  PodNetworkTeardown,
  PortMapping,
} from "./types.ts";
