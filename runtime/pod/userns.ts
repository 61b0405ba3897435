/**
 * A pod's user namespace request (`userns_options`), checked before RunPodSandbox makes
 * anything: the kubelet's own rules for the mappings, then whether the pod's runtime
 * handler can run it at all. A pod the node cannot run in a user namespace is refused here,
 * not after it went READY when its first container is created.
 *
 * The kubelet (pkg/kubelet/userns) sends mode NODE without mappings for `hostUsers: true`,
 * and for `hostUsers: false` mode POD with exactly one uid and one gid mapping, identical,
 * mapping container id 0, from a host id that is a non-zero multiple of 65536 (ids below
 * 65536 are the host's own), over a length that is a multiple of 65536.
 *
 * @module
 */
import { NamespaceMode, type NamespaceOption, type PodSandboxConfig } from "../../api/gen/api.ts";
import { failedPrecondition, invalidArgument } from "../../errors/mod.ts";
import type { RuntimeHandlerInfo } from "../handlers.ts";

const FIELD = "config.linux.security_context.namespace_options.userns_options";
/** The kubelet's unit of id ranges, and the host's own range below it. */
const BLOCK = 65536;
/** Ids are 32-bit; (uid_t)-1 is never a valid id. */
const ID_LIMIT = 2 ** 32 - 1;

/** The one mapping of a pod's user namespace (uids and gids alike). */
export interface PodIdMapping {
  hostId: number;
  length: number;
}

/**
 * The pod's user namespace mapping, or undefined when it uses the node's; throws
 * INVALID_ARGUMENT naming the field for a request the kubelet would never send, and
 * FAILED_PRECONDITION when `handler` cannot run it.
 */
export function podUserns(
  config: PodSandboxConfig,
  handler: RuntimeHandlerInfo,
): PodIdMapping | undefined {
  const ns = config.linux?.securityContext?.namespaceOptions;
  const u = ns?.usernsOptions;
  if (!u) return undefined;
  switch (u.mode) {
    case NamespaceMode.NODE:
      if (u.uids.length || u.gids.length) {
        throw invalidArgument(`${FIELD}: mode NODE takes no uids or gids mappings`);
      }
      return undefined;
    case NamespaceMode.POD:
      break;
    default:
      throw invalidArgument(
        `${FIELD}.mode: ${NamespaceMode[u.mode] ?? u.mode} is not supported (POD or NODE)`,
      );
  }
  const uid = oneMapping(u.uids, "uids");
  const gid = oneMapping(u.gids, "gids");
  if (uid.hostId !== gid.hostId || uid.length !== gid.length) {
    throw invalidArgument(`${FIELD}: the uids and gids mappings must be identical`);
  }
  checkNotHost(ns!);
  if (ns!.pid === NamespaceMode.POD) {
    throw failedPrecondition(
      `${FIELD}: a pod user namespace with a shared PID namespace (namespace_options.pid ` +
        "POD, a pause container) is not supported by sauropod yet",
    );
  }
  if (!handler.features.userNamespaces) {
    throw failedPrecondition(
      `${FIELD}: the runtime handler "${handler.name}" does not support user namespaces ` +
        `(Status lists user_namespaces=false for it; sauropod check says why)`,
    );
  }
  return uid;
}

function oneMapping(
  list: { hostId: number; containerId: number; length: number }[],
  what: string,
): PodIdMapping {
  const field = `${FIELD}.${what}`;
  if (list.length !== 1) {
    throw invalidArgument(`${field}: exactly one mapping is needed, got ${list.length}`);
  }
  const m = list[0]!;
  if (m.containerId !== 0) {
    throw invalidArgument(`${field}[0].container_id: must be 0 (root inside the pod is mapped)`);
  }
  if (m.length === 0) throw invalidArgument(`${field}[0].length: is 0`);
  if (m.length % BLOCK !== 0) {
    throw invalidArgument(`${field}[0].length: ${m.length} is not a multiple of ${BLOCK}`);
  }
  if (m.hostId < BLOCK) {
    throw invalidArgument(
      `${field}[0].host_id: ${m.hostId} overlaps the host's own ids (0..${BLOCK - 1})`,
    );
  }
  if (m.hostId % BLOCK !== 0) {
    throw invalidArgument(`${field}[0].host_id: ${m.hostId} is not a multiple of ${BLOCK}`);
  }
  if (m.hostId + m.length > ID_LIMIT) {
    throw invalidArgument(
      `${field}[0]: host ids ${m.hostId}..${m.hostId + m.length - 1} go past ${ID_LIMIT - 1}`,
    );
  }
  return { hostId: m.hostId, length: m.length };
}

/** The API forbids a user namespace with the host's network, PID or IPC namespace. */
function checkNotHost(ns: NamespaceOption): void {
  for (const [key, mode] of [["network", ns.network], ["pid", ns.pid], ["ipc", ns.ipc]] as const) {
    if (mode === NamespaceMode.NODE) {
      throw invalidArgument(
        `${FIELD}: a pod user namespace cannot be combined with the node's ${key} namespace ` +
          `(namespace_options.${key} NODE)`,
      );
    }
  }
}
