/**
 * The OCI runtime specification types sauropod emits: the subset of `config.json` that the
 * builders in this folder fill in. Names and JSON keys are exactly those of
 * opencontainers/runtime-spec (`config.md`, `config-linux.md`, `specs-go/config.go`), so a
 * value of {@link Spec} is `JSON.stringify`-ready for runc or crun.
 *
 * Numbers are plain `number`s (the builders reject CRI values beyond 2^53), because
 * `JSON.stringify` cannot write `bigint`.
 *
 * @module
 */

/**
 * The runtime-spec version written into `ociVersion`. runc 1.1 and containerd 1.6 speak
 * 1.0.2; every field emitted here exists in that version.
 */
export const OCI_VERSION = "1.0.2";

/** The whole `config.json` of a bundle. */
export interface Spec {
  /** Version of the runtime spec the document follows. */
  ociVersion: string;
  /** The container's init process. */
  process?: Process;
  /** The root filesystem. */
  root?: Root;
  /** Hostname set in the container's UTS namespace. */
  hostname?: string;
  /** Mounts, performed in this order. */
  mounts?: Mount[];
  /** Free-form metadata for the runtime and tools reading the bundle. */
  annotations?: Record<string, string>;
  /** Linux-specific configuration. */
  linux?: Linux;
  /** Hooks the runtime runs at points of the container's life (CDI devices bring them). */
  hooks?: Hooks;
}

/** One OCI hook: a host program the runtime runs with the container's state on stdin. */
export interface Hook {
  /** Absolute path of the program on the host. */
  path: string;
  /** argv, including argv[0]. */
  args?: string[];
  /** `KEY=value` environment. */
  env?: string[];
  /** Seconds before the runtime kills it. */
  timeout?: number;
}

/** Hooks by the point they run at. */
export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** The container's root filesystem. */
export interface Root {
  /** Absolute path, or relative to the bundle. */
  path: string;
  /** Mount the root filesystem read-only (after the mounts are made). */
  readonly?: boolean;
}

/** One mount, in the order runc performs them. */
export interface Mount {
  /** Absolute path in the container. */
  destination: string;
  /** Filesystem type (`bind`, `proc`, `tmpfs`…). */
  type?: string;
  /** Device, host path or filesystem name. */
  source?: string;
  /** mount(8) options, including runc's `rbind`, `rprivate`, `rro`… */
  options?: string[];
  /** An idmapped bind mount's uid mappings (equal to the container's user namespace's). */
  uidMappings?: LinuxIDMapping[];
  /** An idmapped bind mount's gid mappings. */
  gidMappings?: LinuxIDMapping[];
}

/** One range of a user namespace's (or an idmapped mount's) id mapping. */
export interface LinuxIDMapping {
  /** First id inside. */
  containerID: number;
  /** First id on the host. */
  hostID: number;
  /** Number of ids. */
  size: number;
}

/** The container's init process. */
export interface Process {
  /** Attach a pseudo-terminal (from runc's console socket). */
  terminal?: boolean;
  /** Identity of the process. */
  user: User;
  /** argv; `args[0]` is looked up in the container's PATH. */
  args: string[];
  /** `KEY=value` environment. */
  env?: string[];
  /** Absolute working directory. */
  cwd: string;
  /** Capability sets. */
  capabilities?: LinuxCapabilities;
  /** Set `PR_SET_NO_NEW_PRIVS`: setuid binaries and file capabilities grant nothing. */
  noNewPrivileges?: boolean;
  /** AppArmor profile to apply. */
  apparmorProfile?: string;
  /** Written to `/proc/<pid>/oom_score_adj`. */
  oomScoreAdj?: number;
  /** SELinux process label. */
  selinuxLabel?: string;
}

/** Who the process runs as. */
export interface User {
  /** User id in the container. */
  uid: number;
  /** Primary group id. */
  gid: number;
  /** File mode creation mask. */
  umask?: number;
  /** Supplementary groups (setgroups). */
  additionalGids?: number[];
}

/** Capability sets by name (`CAP_CHOWN`…). */
export interface LinuxCapabilities {
  /** Bounding set: the most the process can ever have. */
  bounding?: string[];
  /** Effective set: what is checked now. */
  effective?: string[];
  /** Inheritable set: what execve may pass on. */
  inheritable?: string[];
  /** Permitted set: what may be made effective. */
  permitted?: string[];
  /** Ambient set: kept across execve by unprivileged users. */
  ambient?: string[];
}

/** The Linux section. */
export interface Linux {
  /** Namespaced kernel parameters to write. */
  sysctl?: Record<string, string>;
  /** cgroup limits. */
  resources?: LinuxResources;
  /** cgroup path (cgroupfs) or `slice:prefix:name` (systemd driver). */
  cgroupsPath?: string;
  /** Namespaces to create or join. */
  namespaces?: LinuxNamespace[];
  /** Device nodes to create in `/dev`. */
  devices?: LinuxDevice[];
  /** Seccomp filter. */
  seccomp?: LinuxSeccomp;
  /** Propagation of the root mount (`rslave`, `rshared`…). */
  rootfsPropagation?: string;
  /** Paths covered so the container cannot read them. */
  maskedPaths?: string[];
  /** Paths remounted read-only. */
  readonlyPaths?: string[];
  /** SELinux label of the mounts. */
  mountLabel?: string;
  /** The user namespace's uid mappings (with a `user` namespace). */
  uidMappings?: LinuxIDMapping[];
  /** The user namespace's gid mappings. */
  gidMappings?: LinuxIDMapping[];
}

/** Namespace kinds of `linux.namespaces[].type`. */
export type LinuxNamespaceType =
  | "pid"
  | "network"
  | "mount"
  | "ipc"
  | "uts"
  | "user"
  | "cgroup"
  | "time";

/** A namespace to create (no path) or join (path). */
export interface LinuxNamespace {
  /** Which namespace. */
  type: LinuxNamespaceType;
  /** Namespace file to join (`/proc/<pid>/ns/net`, a pinned bind mount). */
  path?: string;
}

/** A device node the runtime creates in the container's `/dev`. */
export interface LinuxDevice {
  /** Path in the container. */
  path: string;
  /** `c`, `b`, `u` or `p`. */
  type: string;
  /** Major device number. */
  major: number;
  /** Minor device number. */
  minor: number;
  /** Permission bits of the node. */
  fileMode?: number;
  /** Owner of the node. */
  uid?: number;
  /** Group of the node. */
  gid?: number;
}

/** One rule of the device cgroup (allow or deny). */
export interface LinuxDeviceCgroup {
  /** Allow (true) or deny (false). */
  allow: boolean;
  /** `a`, `c` or `b`; absent means all. */
  type?: string;
  /** Major number; absent means any. */
  major?: number;
  /** Minor number; absent means any. */
  minor?: number;
  /** Some of `r`, `w`, `m`. */
  access?: string;
}

/** cgroup limits. */
export interface LinuxResources {
  /** Device cgroup rules, applied in order. */
  devices?: LinuxDeviceCgroup[];
  /** Memory limits. */
  memory?: LinuxMemory;
  /** CPU limits. */
  cpu?: LinuxCPU;
  /** Task limit. */
  pids?: LinuxPids;
  /** Huge page limits. */
  hugepageLimits?: LinuxHugepageLimit[];
  /** cgroup v2 files to write, by name (`memory.high`). */
  unified?: Record<string, string>;
}

/** Memory limits in bytes; `swap` is memory+swap (cgroup v1 semantics, as the spec says). */
export interface LinuxMemory {
  /** Memory limit in bytes. */
  limit?: number;
  /** Soft limit in bytes. */
  reservation?: number;
  /** Memory+swap limit in bytes. */
  swap?: number;
}

/** CPU limits. */
export interface LinuxCPU {
  /** Relative weight (cgroup v1 `cpu.shares`; converted to `cpu.weight` on v2). */
  shares?: number;
  /** CPU time per period in microseconds; -1 is unlimited. */
  quota?: number;
  /** CFS period in microseconds. */
  period?: number;
  /** CPUs the container may run on (`0-3,8`). */
  cpus?: string;
  /** Memory nodes the container may use. */
  mems?: string;
}

/** Task limit. */
export interface LinuxPids {
  /** Maximum number of tasks. */
  limit: number;
}

/** Huge page limit per page size (`2MB`, `1GB`). */
export interface LinuxHugepageLimit {
  /** Page size, like `2MB`. */
  pageSize: string;
  /** Limit in bytes. */
  limit: number;
}

/** Seccomp actions of the runtime spec. */
export type LinuxSeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

/** Seccomp argument comparison operators. */
export type LinuxSeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

/** A seccomp filter. */
export interface LinuxSeccomp {
  /** Action for syscalls no rule matches. */
  defaultAction: LinuxSeccompAction;
  /** errno returned by a default SCMP_ACT_ERRNO (EPERM when absent). */
  defaultErrnoRet?: number;
  /** Architectures the filter covers (`SCMP_ARCH_X86_64`…). */
  architectures?: string[];
  /** seccomp(2) flags (`SECCOMP_FILTER_FLAG_LOG`…). */
  flags?: string[];
  /** Unix socket receiving the notify fd, for SCMP_ACT_NOTIFY. */
  listenerPath?: string;
  /** Opaque data sent to the listener. */
  listenerMetadata?: string;
  /** Rules, first match wins per syscall and arguments. */
  syscalls?: LinuxSyscall[];
}

/** A rule for a group of syscalls. */
export interface LinuxSyscall {
  /** Syscall names. */
  names: string[];
  /** What to do when the rule matches. */
  action: LinuxSeccompAction;
  /** errno for SCMP_ACT_ERRNO (EPERM when absent). */
  errnoRet?: number;
  /** Conditions on arguments, all of which must hold. */
  args?: LinuxSeccompArg[];
}

/** A condition on one syscall argument. */
export interface LinuxSeccompArg {
  /** Argument index, 0..5. */
  index: number;
  /** Value compared against. */
  value: number;
  /** Second value (the expected result for SCMP_CMP_MASKED_EQ). */
  valueTwo?: number;
  /** Comparison. */
  op: LinuxSeccompOperator;
}
