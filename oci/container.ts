/**
 * CreateContainer's OCI spec: CRI `ContainerConfig` + the pod's config + the image config +
 * facts the runtime gathered → `config.json`. Pure: no file, process or clock is touched.
 *
 * The rules are containerd's CRI plugin (`internal/cri/server/container_create*.go`,
 * `internal/cri/opts/spec_*.go`, `pkg/oci/spec_opts.go`); where sauropod departs, the code
 * says why.
 *
 * @module
 */
import {
  type ContainerConfig,
  NamespaceMode,
  type PodSandboxConfig,
  SupplementalGroupsPolicy,
} from "../api/gen/api.ts";
import { failedPrecondition, invalidArgument } from "../errors/mod.ts";
import {
  type AnnotationAllowlist,
  CONTAINER_NAME,
  CONTAINER_TYPE_CONTAINER,
  IMAGE_NAME,
  passthroughAnnotations,
} from "./annotations.ts";
import { containerCapabilities, KNOWN_CAPABILITIES } from "./capabilities.ts";
import {
  defaultArch,
  idOf,
  namespaceEntry,
  type NodeFacts,
  podAnnotations,
  securityContextUser,
} from "./_common.ts";
import { containerDevices } from "./devices.ts";
import type { HostDevice, HostPaths } from "./host.ts";
import { containerMounts, type PodMounts } from "./mounts.ts";
import {
  checkEnvVar,
  DEFAULT_PATH,
  type ImageConfigFacts,
  mergeArgs,
  mergeEnv,
} from "./process.ts";
import { linuxResourcesFromCri, type OomScoreAdjPolicy, restrictOomScoreAdj } from "./resources.ts";
import { seccompFor } from "./seccomp.ts";
import {
  checkPathList,
  checkSelinuxOptions,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
} from "./_security.ts";
import { type Linux, OCI_VERSION, type Process, type Spec } from "./spec.ts";
import { checkSysctls, type SysctlNamespace } from "./sysctls.ts";
import { resolveUser } from "./user.ts";

/** Namespaces a container runs in, resolved by the runtime from the pod. */
/** A pod's user namespace: its pinned file and its mapping of container id 0. */
export interface PodUserns {
  path: string;
  hostId: number;
  length: number;
}

export interface ContainerNamespaces {
  /** `host`, or the path of the pod's pinned network namespace. */
  network: string;
  /** `host`, or the path of the pod's pinned IPC namespace. */
  ipc: string;
  /** `host`, or the path of the pod's pinned UTS namespace. */
  uts: string;
  /**
   * `host`; `new` for the container's own (namespace_options.pid CONTAINER); or a path:
   * `/proc/<pid>/ns/pid` of the sandbox init (POD) or of the target container (TARGET).
   */
  pid: string;
}

/** Everything CreateContainer's spec is built from. */
export interface ContainerSpecInputs {
  /** The container's id (for messages; the cgroup path is built by the caller). */
  containerId: string;
  /** The pod sandbox's id, for the `io.kubernetes.cri.sandbox-id` annotation. */
  sandboxId: string;
  /** CreateContainerRequest.config. */
  config: ContainerConfig;
  /** CreateContainerRequest.sandbox_config (the pod's config). */
  sandboxConfig: PodSandboxConfig;
  /** The image's config: user, env, entrypoint, cmd, working dir. */
  image: ImageConfigFacts;
  /**
   * The image name for the `io.kubernetes.cri.image-name` annotation; defaults to the
   * config's user_specified_image, else its image.
   */
  imageName?: string;
  /** The mounted root filesystem (absolute). */
  rootfsPath: string;
  /** The namespaces to join, resolved from the pod. */
  namespaces: ContainerNamespaces;
  /**
   * The pod's user namespace, when it has one (`userns_options` mode POD): its pinned file
   * and its one mapping (uids and gids alike). The container joins it.
   */
  userns?: PodUserns | undefined;
  /** Already built by the cgroups driver (cgroupfs path or systemd `slice:prefix:name`). */
  cgroupsPath: string;
  /** Host files the runtime prepared for the pod. */
  podMounts: PodMounts;
  /** Facts about every host path the config names (mounts, devices). */
  hostPaths: HostPaths;
  /** The rootfs's `/etc/passwd`, when present. */
  passwd?: string | undefined;
  /** The rootfs's `/etc/group`, when present. */
  group?: string | undefined;
  /** The host's device nodes, for privileged containers. */
  hostDevices?: readonly HostDevice[] | undefined;
  /** Whether and how oom_score_adj is clamped. */
  oomScoreAdj: OomScoreAdjPolicy;
  /** The pod's hostname, for the `HOSTNAME` variable (the node's when the pod has none). */
  hostname: string;
  /** Text of the Localhost seccomp profile file, when the security context names one. */
  localhostSeccompProfile?: string | undefined;
  /**
   * The agent's own capabilities (its `CapBnd`): what privileged and `ALL` grant, since runc
   * cannot hand out a capability it lacks. Defaults to every capability.
   */
  agentCapabilities?: readonly string[] | undefined;
  /** Facts about the node (cgroup version, swap, hugetlb, architecture, SELinux). */
  node?: NodeFacts | undefined;
  /**
   * The AppArmor profile to run under, as the runtime resolved the security context's
   * request on this node (`apparmorRequest`); absent: none (the process keeps runc's).
   */
  apparmorProfile?: string | undefined;
  /** Which pod and container annotations reach the spec; default none. */
  annotationAllowlist?: AnnotationAllowlist | undefined;
}

const SC = "container.linux.security_context";
const decoder = new TextDecoder();

/**
 * The OCI runtime spec of a container. Invalid input is invalid-argument naming the field;
 * a container joins its pod's user namespace, if the pod has one.
 */
export function buildContainerSpec(inputs: ContainerSpecInputs): Spec {
  const { config, sandboxConfig } = inputs;
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const node = inputs.node ?? {};
  const name = config.metadata?.name;
  if (!name) throw invalidArgument("container.metadata.name: missing");
  if (privileged && !sandboxConfig.linux?.securityContext?.privileged) {
    throw invalidArgument(`${SC}.privileged: the pod sandbox is not privileged`);
  }
  if (sc?.namespaceOptions?.usernsOptions?.mode === NamespaceMode.POD && !inputs.userns) {
    throw failedPrecondition(
      `${SC}.namespace_options.userns_options: mode POD, but the pod sandbox has no user ` +
        "namespace",
    );
  }
  checkSelinuxOptions(sc?.selinuxOptions, node.selinux ?? false, `${SC}.selinux_options`);
  checkSharedNamespaces(sc?.namespaceOptions, inputs.namespaces);

  const args = mergeArgs(inputs.image, config.command, config.args, "container.command");
  const env = containerEnv(inputs);
  const cwd = workingDir(config.workingDir, inputs.image.workingDir);
  const user = containerUser(inputs);

  const capabilities = containerCapabilities({
    capabilities: sc?.capabilities,
    privileged,
    all: inputs.agentCapabilities ?? KNOWN_CAPABILITIES,
    field: `${SC}.capabilities`,
  });
  const seccomp = seccompFor({
    source: sc,
    privileged,
    bounding: capabilities.bounding ?? [],
    arch: node.arch ?? defaultArch(),
    localhostProfile: inputs.localhostSeccompProfile,
    field: SC,
  });
  const readonlyRootfs = sc?.readonlyRootfs ?? false;
  const mounts = containerMounts({
    mounts: config.mounts,
    podMounts: inputs.podMounts,
    hostPaths: inputs.hostPaths,
    privileged,
    readonlyRootfs,
    recursiveReadOnly: node.recursiveReadOnlyMounts ?? false,
    selinux: node.selinux ?? false,
    userns: inputs.userns,
    idmapTmpfs: node.idmapTmpfs ?? false,
    field: "container.mounts",
  });
  const devices = containerDevices({
    devices: config.devices,
    hostPaths: inputs.hostPaths,
    privileged,
    hostDevices: inputs.hostDevices,
    field: "container.devices",
  });
  const resources = linuxResourcesFromCri(config.linux?.resources, {
    swapAccounting: node.swapAccounting ?? false,
    hugetlb: node.hugetlb ?? false,
    ...(node.hugepageSizes ? { hugepageSizes: node.hugepageSizes } : {}),
    ...(node.cgroupVersion ? { cgroupVersion: node.cgroupVersion } : {}),
    field: "container.linux.resources",
  }) ?? {};
  resources.devices = devices.rules;

  const ns = inputs.namespaces;
  const hostNs = new Set<SysctlNamespace>();
  if (ns.network === "host") hostNs.add("network");
  if (ns.ipc === "host") hostNs.add("ipc");
  if (ns.uts === "host") hostNs.add("uts");
  // The pod's sysctls live in the pod's namespaces. With no infra container to carry them,
  // every container writes them (the same values each time) into the namespaces it joins.
  const sysctl = checkSysctls(sandboxConfig.linux?.sysctls ?? {}, hostNs, "sandbox.linux.sysctls");

  const linux: Linux = {
    resources,
    cgroupsPath: inputs.cgroupsPath,
    namespaces: [
      ...namespaceEntry("pid", ns.pid),
      ...namespaceEntry("ipc", ns.ipc),
      ...namespaceEntry("uts", ns.uts),
      { type: "mount" },
      ...namespaceEntry("network", ns.network),
      // As containerd: a cgroup namespace hides the host's hierarchy on cgroup v2; on v1
      // and for privileged containers (which may manage cgroups) none is made
      // (containers/libpod#4363).
      ...(node.cgroupVersion === 2 && !privileged ? [{ type: "cgroup" as const }] : []),
      // The pod's user namespace, pinned with its network, IPC and UTS namespaces (which it
      // owns, so that sysfs and mqueue can be mounted inside).
      ...(inputs.userns ? [{ type: "user" as const, path: inputs.userns.path }] : []),
    ],
    devices: devices.devices,
  };
  if (inputs.userns) {
    const m = [{ containerID: 0, hostID: inputs.userns.hostId, size: inputs.userns.length }];
    linux.uidMappings = m;
    linux.gidMappings = structuredClone(m);
  }
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;
  if (seccomp) linux.seccomp = seccomp;
  if (mounts.rootfsPropagation) linux.rootfsPropagation = mounts.rootfsPropagation;
  if (!privileged) {
    // Absent security context: the runtime defaults. Present: exactly its lists, so an
    // empty list (the kubelet's procMount: Unmasked) means none; proto3 cannot tell an
    // empty list from a missing one, so this is the only way to ask for none.
    linux.maskedPaths = sc
      ? checkPathList(sc.maskedPaths, `${SC}.masked_paths`)
      : [...DEFAULT_MASKED_PATHS];
    linux.readonlyPaths = sc
      ? checkPathList(sc.readonlyPaths, `${SC}.readonly_paths`)
      : [...DEFAULT_READONLY_PATHS];
  }

  const process: Process = {
    terminal: config.tty,
    user,
    args,
    env,
    cwd,
    capabilities,
    noNewPrivileges: sc?.noNewPrivs ?? false,
  };
  if (inputs.apparmorProfile !== undefined) process.apparmorProfile = inputs.apparmorProfile;
  // As containerd: without resources the process keeps the score it inherits.
  const requested = config.linux?.resources;
  if (requested) {
    process.oomScoreAdj = restrictOomScoreAdj(
      Number(requested.oomScoreAdj),
      inputs.oomScoreAdj,
      "container.linux.resources.oom_score_adj",
    );
  }

  return {
    ociVersion: OCI_VERSION,
    process,
    root: { path: inputs.rootfsPath, readonly: readonlyRootfs },
    mounts: mounts.mounts,
    // As containerd: the allowed pod annotations, then the container's, then the CRI's own.
    annotations: {
      ...passthroughAnnotations(sandboxConfig.annotations, inputs.annotationAllowlist?.pod ?? []),
      ...passthroughAnnotations(config.annotations, inputs.annotationAllowlist?.container ?? []),
      ...podAnnotations(inputs.sandboxId, sandboxConfig, CONTAINER_TYPE_CONTAINER),
      [CONTAINER_NAME]: name,
      [IMAGE_NAME]: inputs.imageName ??
        (config.image?.userSpecifiedImage || config.image?.image || ""),
    },
    linux,
  };
}

/**
 * A container always joins its pod's network and IPC namespaces (the kubelet sends the pod's
 * modes again): POD is the pod's, whatever it is; NODE is accepted only when the pod is on
 * the node's; a namespace of its own (CONTAINER) or another container's (TARGET) is refused.
 */
function checkSharedNamespaces(
  opts: { network: NamespaceMode; ipc: NamespaceMode } | undefined,
  ns: ContainerNamespaces,
): void {
  for (const kind of ["network", "ipc"] as const) {
    const mode = opts?.[kind] ?? NamespaceMode.POD;
    const field = `${SC}.namespace_options.${kind}`;
    if (mode === NamespaceMode.POD) continue;
    if (mode === NamespaceMode.NODE) {
      if (ns[kind] !== "host") {
        throw invalidArgument(`${field}: NODE, but the pod sandbox does not use the node's`);
      }
      continue;
    }
    throw invalidArgument(
      `${field}: ${NamespaceMode[mode] ?? mode} is not supported (a container shares its pod's)`,
    );
  }
}

/**
 * PATH (Docker's default unless overridden), TERM for a tty, HOSTNAME, then the image's
 * variables, then the config's, each overriding earlier ones by name (containerd's order).
 */
function containerEnv(inputs: ContainerSpecInputs): string[] {
  const { config } = inputs;
  let env = [DEFAULT_PATH];
  if (config.tty) env.push("TERM=xterm");
  env = mergeEnv(env, [`HOSTNAME=${inputs.hostname}`]);
  // Values are bytes on the wire; config.json is JSON, which carries only Unicode, so bytes
  // that are not UTF-8 become U+FFFD, as they do through containerd's encoding/json.
  const own = config.envs.map((kv, i) =>
    checkEnvVar(kv.key, decoder.decode(kv.value), `container.envs[${i}]`)
  );
  return mergeEnv(env, [...inputs.image.env, ...own]);
}

function workingDir(fromConfig: string, fromImage: string): string {
  const [cwd, field] = fromConfig !== ""
    ? [fromConfig, "container.working_dir"]
    : [fromImage, "image config WorkingDir"];
  if (cwd === "") return "/";
  if (!cwd.startsWith("/")) throw invalidArgument(`${field}: "${cwd}" is not an absolute path`);
  return cwd;
}

function containerUser(inputs: ContainerSpecInputs) {
  const sc = inputs.config.linux?.securityContext;
  const asked = securityContextUser(
    sc?.runAsUsername ?? "",
    sc?.runAsUser,
    sc?.runAsGroup,
    SC,
  );
  const supplementalGroups = (sc?.supplementalGroups ?? []).map((g, i) =>
    idOf(g, `${SC}.supplemental_groups[${i}]`)
  );
  const policyValue = sc?.supplementalGroupsPolicy ?? SupplementalGroupsPolicy.Merge;
  if (
    policyValue !== SupplementalGroupsPolicy.Merge &&
    policyValue !== SupplementalGroupsPolicy.Strict
  ) {
    throw invalidArgument(`${SC}.supplemental_groups_policy: unknown policy ${policyValue}`);
  }
  const r = resolveUser({
    user: asked?.user ?? inputs.image.user,
    passwd: inputs.passwd,
    group: inputs.group,
    supplementalGroups,
    policy: policyValue === SupplementalGroupsPolicy.Strict ? "strict" : "merge",
    field: asked?.field ?? "image config User",
  });
  return { uid: r.uid, gid: r.gid, additionalGids: r.additionalGids };
}
