/**
 * CRI port mappings → the CNI portMappings capability.
 *
 * @module
 */
import { type PodSandboxConfig, Protocol } from "../../api/gen/api.ts";

/** One port mapping in CNI terms. */
export interface CniPortMapping {
  protocol: "tcp" | "udp" | "sctp";
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

/** The pod's port mappings that publish a host port (the others are informational). */
export function portMappingsOf(config: PodSandboxConfig): CniPortMapping[] {
  return config.portMappings
    .filter((p) => p.hostPort > 0)
    .map((p) => ({
      protocol: p.protocol === Protocol.UDP ? "udp" : p.protocol === Protocol.SCTP ? "sctp" : "tcp",
      containerPort: p.containerPort,
      hostPort: p.hostPort,
      hostIp: p.hostIp,
    }));
}
