/**
 * Pieces shared by the container and the sandbox spec builders.
 *
 * @module
 */
import type { Int64Value, PodSandboxConfig } from "../api/gen/api.ts";
import { internal, invalidArgument } from "../errors/mod.ts";
import {
  CONTAINER_TYPE,
  SANDBOX_ID,
  SANDBOX_NAME,
  SANDBOX_NAMESPACE,
  SANDBOX_UID,
} from "./annotations.ts";
import { MAX_ID } from "./user.ts";
import type { LinuxNamespace, LinuxNamespaceType } from "./spec.ts";

/** Facts about the node that shape specs; the runtime detects them once at start. */
export interface NodeFacts {
  /** The cgroup version containers run under (default 1). On 2, containers get a cgroup ns. */
  cgroupVersion?: 1 | 2;
  /** Swap is accounted in the memory cgroup (memory.memsw.* on v1, memory.swap.max on v2). */
  swapAccounting?: boolean;
  /** The hugetlb cgroup controller exists where runc manages containers' cgroups. */
  hugetlb?: boolean;
  /** Huge page sizes that controller offers (`2MB`, `1GB`); absent: not checked. */
  hugepageSizes?: readonly string[];
  /**
   * The pod's runtime handler supports recursively read-only mounts (runc ≥ 1.1 with
   * mount_setattr), as probed at start (`app/handler_probe.ts`).
   */
  recursiveReadOnlyMounts?: boolean;
  /** The kernel can idmap a tmpfs (Linux ≥ 6.3), for idmapped volumes on tmpfs. */
  idmapTmpfs?: boolean;
  /** `Deno.build.arch` (default: this process's): picks the seccomp architectures. */
  arch?: string;
  /**
   * SELinux is enabled (selinuxfs is mounted). sauropod applies no SELinux labels, so SELinux
   * options and relabel requests are refused there, and ignored elsewhere.
   */
  selinux?: boolean;
}

/** A security-context id (run_as_user, run_as_group, supplemental group) as a number. */
export function idOf(v: bigint, field: string): number {
  if (v < 0n || v > BigInt(MAX_ID)) {
    throw invalidArgument(`${field}: ${v} is outside 0..${MAX_ID}`);
  }
  return Number(v);
}

/**
 * The user string for a security context, as containerd's GenerateUserString builds it:
 * the name or uid, with `:gid` when run_as_group is set; run_as_group alone is an error
 * (the CRI says the runtime MUST refuse it). Returns the field the string came from, for
 * error messages, or undefined when the context asks for nothing.
 */
export function securityContextUser(
  runAsUsername: string,
  runAsUser: Int64Value | undefined,
  runAsGroup: Int64Value | undefined,
  field: string,
): { user: string; field: string } | undefined {
  let user: string | undefined;
  let from = "";
  if (runAsUser) {
    user = String(idOf(runAsUser.value, `${field}.run_as_user`));
    from = `${field}.run_as_user`;
  }
  if (runAsUsername !== "") {
    user = runAsUsername;
    from = `${field}.run_as_username`;
  }
  if (user === undefined) {
    if (runAsGroup) {
      throw invalidArgument(`${field}.run_as_group: set without run_as_user or run_as_username`);
    }
    return undefined;
  }
  if (runAsGroup) user += ":" + String(idOf(runAsGroup.value, `${field}.run_as_group`));
  return { user, field: from };
}

/**
 * A namespace entry: `host` shares the node's (no entry), `new` creates one, an absolute
 * path joins that namespace.
 */
export function namespaceEntry(type: LinuxNamespaceType, where: string): LinuxNamespace[] {
  if (where === "host") return [];
  if (where === "new") return [{ type }];
  if (!where.startsWith("/")) {
    throw internal(`${type} namespace: "${where}" is neither host, new nor an absolute path`);
  }
  return [{ type, path: where }];
}

/** The `io.kubernetes.cri.*` annotations every spec of a pod carries. */
export function podAnnotations(
  sandboxId: string,
  sandbox: PodSandboxConfig,
  containerType: string,
): Record<string, string> {
  const md = sandbox.metadata;
  if (!md) throw invalidArgument("sandbox.metadata: missing");
  return {
    [SANDBOX_ID]: sandboxId,
    [SANDBOX_NAMESPACE]: md.namespace,
    [SANDBOX_UID]: md.uid,
    [SANDBOX_NAME]: md.name,
    [CONTAINER_TYPE]: containerType,
  };
}

/** The architecture specs are built for when the caller does not say. */
export function defaultArch(): string {
  return Deno.build.arch;
}
