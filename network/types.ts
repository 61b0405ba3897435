/**
 * The vocabulary of pod networking shared by the CNI manager, its helpers and callers.
 *
 * @module
 */

/** A CRI port mapping in the form the portmap plugin's `portMappings` capability takes. */
export interface PortMapping {
  readonly protocol: "tcp" | "udp" | "sctp";
  readonly containerPort: number;
  /** 0 means "no host port": such a mapping is not passed to CNI (as containerd does). */
  readonly hostPort: number;
  /** Empty means every host address. */
  readonly hostIp: string;
}

/** The pod's DNS settings, offered to plugins through the `dns` capability. */
export interface PodDns {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

/** Traffic shaping in bits per second, offered through the `bandwidth` capability. */
export interface PodBandwidth {
  readonly ingressRate?: number;
  readonly egressRate?: number;
}

/** Everything CNI needs to attach one pod to the network. */
export interface PodNetworkRequest {
  /** The sandbox id; becomes `CNI_CONTAINERID` and `K8S_POD_INFRA_CONTAINER_ID`. */
  readonly podId: string;
  /** Pod name (`K8S_POD_NAME`). */
  readonly name: string;
  /** Pod namespace (`K8S_POD_NAMESPACE`). */
  readonly namespace: string;
  /** Pod UID (`K8S_POD_UID`). */
  readonly uid: string;
  /** The pinned network namespace file (`CNI_NETNS`). */
  readonly netnsPath: string;
  readonly portMappings: readonly PortMapping[];
  readonly dns?: PodDns;
  readonly bandwidth?: PodBandwidth;
  /** The pod's cgroup parent, offered through the `cgroupPath` capability. */
  readonly cgroupParent?: string;
  /** Pod annotations, offered through the `io.kubernetes.cri.pod-annotations` capability. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * What tearing down needs: the pod id, and the netns path when the cache lacks it. The rest
 * of a {@link PodNetworkRequest} is accepted and ignored, because DEL replays the arguments
 * cached at ADD.
 */
export type PodNetworkTeardown = Pick<PodNetworkRequest, "podId"> & Partial<PodNetworkRequest>;

/** One interface a plugin reported. */
export interface NetworkInterface {
  readonly name: string;
  readonly mac?: string;
  /** The netns path for interfaces inside the pod; absent for host-side interfaces. */
  readonly sandbox?: string;
}

/** The outcome of attaching a pod. */
export interface PodNetworkResult {
  /** The CNI network the pod joined. */
  readonly network: string;
  /** Addresses of the pod's `eth0`, without prefix length; the first IPv4 first. */
  readonly ips: string[];
  readonly interfaces: NetworkInterface[];
}

/** The `NetworkReady` runtime condition. */
export interface NetworkStatus {
  readonly ready: boolean;
  /** CamelCase reason when not ready, e.g. `NetworkPluginNotReady`. */
  readonly reason?: string;
  /** Human-readable detail naming the config dir or file. */
  readonly message?: string;
}

/** Traffic counters of one interface inside a pod's netns. */
export interface InterfaceStats {
  readonly name: string;
  readonly rxBytes: bigint;
  readonly rxPackets: bigint;
  readonly rxErrors: bigint;
  readonly rxDropped: bigint;
  readonly txBytes: bigint;
  readonly txPackets: bigint;
  readonly txErrors: bigint;
  readonly txDropped: bigint;
}

/** Counters of every interface of a netns, read at one instant. */
export interface NetworkStats {
  /** Unix time of the reading, in nanoseconds (CRI timestamps). */
  readonly timestampNs: bigint;
  readonly interfaces: InterfaceStats[];
}
