/**
 * The sandbox (pause) container's OCI spec. sauropod runs one only when the pod shares a PID
 * namespace (namespace_options.pid POD): catatonit or pause is PID 1 of a new PID namespace
 * that the pod's containers join, and reaps their orphans. Network, IPC and UTS are the
 * pod's pinned namespaces, so the sandbox neither creates them nor sets a hostname.
 *
 * Based on containerd's `internal/cri/server/podsandbox/sandbox_run_linux.go`
 * (sandboxContainerSpec); departures are noted where they happen.
 *
 * @module
 */
import { NamespaceMode, type PodSandboxConfig } from "../api/gen/api.ts";
import { invalidArgument, unimplemented } from "../errors/mod.ts";
import {
  type AnnotationAllowlist,
  CONTAINER_TYPE_SANDBOX,
  passthroughAnnotations,
  SANDBOX_CPU_PERIOD,
  SANDBOX_CPU_QUOTA,
  SANDBOX_CPU_SHARES,
  SANDBOX_IMAGE_NAME,
  SANDBOX_LOG_DIRECTORY,
  SANDBOX_MEMORY,
} from "./annotations.ts";
import {
  defaultArch,
  idOf,
  namespaceEntry,
  type NodeFacts,
  podAnnotations,
  securityContextUser,
} from "./_common.ts";
import { defaultDeviceRules } from "./devices.ts";
import { defaultMounts } from "./mounts.ts";
import { DEFAULT_PATH, type ImageConfigFacts, mergeEnv } from "./process.ts";
import { linuxResourcesFromCri, type OomScoreAdjPolicy, restrictOomScoreAdj } from "./resources.ts";
import { seccompFor } from "./seccomp.ts";
import { checkSelinuxOptions, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./_security.ts";
import { type Linux, type Mount, OCI_VERSION, type Spec } from "./spec.ts";
import { checkSysctls, type SysctlNamespace } from "./sysctls.ts";
import { resolveUser } from "./user.ts";

/** The oom_score_adj the kubelet gives sandboxes (containerd's defaultSandboxOOMAdj). */
export const SANDBOX_OOM_SCORE_ADJ: number = -998;

/** containerd's DefaultSandboxCPUshares: the pause process needs next to no CPU. */
export const SANDBOX_CPU_SHARES_DEFAULT: number = 2;

/** Everything the sandbox container's spec is built from. */
export interface SandboxSpecInputs {
  /** The pod sandbox's id. */
  sandboxId: string;
  /** RunPodSandboxRequest.config. */
  config: PodSandboxConfig;
  /** The sandbox image's config (catatonit or pause). */
  image: ImageConfigFacts;
  /** The sandbox image name, for the `io.kubernetes.cri.podsandbox.image-name` annotation. */
  imageName: string;
  /** The mounted root filesystem (absolute). */
  rootfsPath: string;
  /** `host` or the path of the pod's pinned namespace; the PID namespace is always new. */
  namespaces: { network: string; ipc: string; uts: string };
  /** Already built by the cgroups driver, under the pod's cgroup parent. */
  cgroupsPath: string;
  /** The pod's `/dev/shm` and `/etc/resolv.conf` on the host, when prepared. */
  podMounts: { shm?: string | undefined; resolvConf?: string | undefined };
  /** The image's `/etc/passwd`, when present (for a `USER` given by name). */
  passwd?: string | undefined;
  /** The image's `/etc/group`, when present. */
  group?: string | undefined;
  /** Whether and how oom_score_adj is clamped. */
  oomScoreAdj: OomScoreAdjPolicy;
  /** Text of the Localhost seccomp profile file, when the pod's security context names one. */
  localhostSeccompProfile?: string | undefined;
  /** Facts about the node. */
  node?: NodeFacts | undefined;
  /** The AppArmor profile to run under, as the runtime resolved it; absent: none. */
  apparmorProfile?: string | undefined;
  /** Which pod annotations reach the spec (only `pod` applies); default none. */
  annotationAllowlist?: AnnotationAllowlist | undefined;
}

const SC = "sandbox.linux.security_context";

/**
 * The OCI runtime spec of a pod's sandbox container: the image's entrypoint and cmd as PID 1
 * of a new PID namespace, read-only root, no capabilities, no new privileges, the pod's
 * namespaces, sysctls and cgroup parent, oom_score_adj -998 (clamped when restricted).
 */
export function buildSandboxSpec(inputs: SandboxSpecInputs): Spec {
  const { config } = inputs;
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const node = inputs.node ?? {};
  if (sc?.namespaceOptions?.usernsOptions?.mode === NamespaceMode.POD) {
    throw unimplemented(
      `${SC}.namespace_options.userns_options: user namespaces are not supported`,
    );
  }
  checkSelinuxOptions(sc?.selinuxOptions, node.selinux ?? false, `${SC}.selinux_options`);

  const { entrypoint, cmd } = inputs.image;
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw invalidArgument(`sandbox image "${inputs.imageName}": no entrypoint and no cmd`);
  }
  const cwd = inputs.image.workingDir || "/";
  if (!cwd.startsWith("/")) {
    throw invalidArgument(`sandbox image config WorkingDir: "${cwd}" is not an absolute path`);
  }

  const asked = securityContextUser("", sc?.runAsUser, sc?.runAsGroup, SC);
  const user = resolveUser({
    user: asked?.user ?? inputs.image.user,
    passwd: inputs.passwd,
    group: inputs.group,
    supplementalGroups: (sc?.supplementalGroups ?? []).map((g, i) =>
      idOf(g, `${SC}.supplemental_groups[${i}]`)
    ),
    // As containerd: only the primary and the pod's supplemental groups, no /etc/group.
    policy: "strict",
    field: asked?.field ?? "sandbox image config User",
  });

  // Departure from containerd, which gives the sandbox the default capability set: the
  // pause process only waits and reaps, for which it needs none.
  const capabilities = { bounding: [], effective: [], permitted: [] };
  const seccomp = seccompFor({
    source: sc,
    privileged,
    bounding: [],
    arch: node.arch ?? defaultArch(),
    localhostProfile: inputs.localhostSeccompProfile,
    field: SC,
  });

  const mounts: Mount[] = defaultMounts(privileged).filter((m) =>
    m.destination !== "/dev/shm" || inputs.podMounts.shm === undefined
  );
  // nosuid,nodev,noexec as containerd: harmless, and required under a user namespace.
  const ro = ["rbind", "ro", "nosuid", "nodev", "noexec"];
  if (inputs.podMounts.shm !== undefined) {
    mounts.push({
      destination: "/dev/shm",
      type: "bind",
      source: inputs.podMounts.shm,
      options: ro,
    });
  }
  if (inputs.podMounts.resolvConf !== undefined) {
    mounts.push({
      destination: "/etc/resolv.conf",
      type: "bind",
      source: inputs.podMounts.resolvConf,
      options: [...ro],
    });
  }

  // The sandbox's own cgroup holds only the pause process: it gets containerd's 2 CPU
  // shares, plus the pod's overhead, which is by definition the sandbox's own cost. The
  // pod's total resources belong to the pod cgroup the kubelet manages; they are only
  // recorded, as containerd records them for VM runtimes.
  const resources = linuxResourcesFromCri(config.linux?.overhead, {
    swapAccounting: node.swapAccounting ?? false,
    hugetlb: node.hugetlb ?? false,
    ...(node.hugepageSizes ? { hugepageSizes: node.hugepageSizes } : {}),
    ...(node.cgroupVersion ? { cgroupVersion: node.cgroupVersion } : {}),
    field: "sandbox.linux.overhead",
  }) ?? {};
  resources.cpu = { shares: SANDBOX_CPU_SHARES_DEFAULT, ...resources.cpu };
  resources.devices = defaultDeviceRules();

  const ns = inputs.namespaces;
  const hostNs = new Set<SysctlNamespace>();
  if (ns.network === "host") hostNs.add("network");
  if (ns.ipc === "host") hostNs.add("ipc");
  if (ns.uts === "host") hostNs.add("uts");
  const sysctl = checkSysctls(config.linux?.sysctls ?? {}, hostNs, "sandbox.linux.sysctls");

  const annotations: Record<string, string> = {
    ...passthroughAnnotations(config.annotations, inputs.annotationAllowlist?.pod ?? []),
    ...podAnnotations(inputs.sandboxId, config, CONTAINER_TYPE_SANDBOX),
    [SANDBOX_LOG_DIRECTORY]: config.logDirectory,
    [SANDBOX_IMAGE_NAME]: inputs.imageName,
  };
  const pod = config.linux?.resources;
  if (pod) {
    annotations[SANDBOX_CPU_PERIOD] = String(pod.cpuPeriod);
    annotations[SANDBOX_CPU_QUOTA] = String(pod.cpuQuota);
    annotations[SANDBOX_CPU_SHARES] = String(pod.cpuShares);
    annotations[SANDBOX_MEMORY] = String(pod.memoryLimitInBytes);
  }

  const linux: Linux = {
    resources,
    cgroupsPath: inputs.cgroupsPath,
    namespaces: [
      { type: "pid" },
      ...namespaceEntry("ipc", ns.ipc),
      ...namespaceEntry("uts", ns.uts),
      { type: "mount" },
      ...namespaceEntry("network", ns.network),
    ],
  };
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  if (seccomp) linux.seccomp = seccomp;
  if (!privileged) {
    linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
  }

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args,
      env: mergeEnv([DEFAULT_PATH], inputs.image.env),
      cwd,
      capabilities,
      noNewPrivileges: true,
      oomScoreAdj: restrictOomScoreAdj(
        SANDBOX_OOM_SCORE_ADJ,
        inputs.oomScoreAdj,
        "sandbox oom_score_adj",
      ),
      ...(inputs.apparmorProfile !== undefined ? { apparmorProfile: inputs.apparmorProfile } : {}),
    },
    root: { path: inputs.rootfsPath, readonly: true },
    mounts,
    annotations,
    linux,
  };
}
