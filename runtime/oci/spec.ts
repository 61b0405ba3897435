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
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  mounts?: Mount[];
  annotations?: Record<string, string>;
  linux?: Linux;
}

/** The container's root filesystem. */
export interface Root {
  /** Absolute path, or relative to the bundle. */
  path: string;
  readonly?: boolean;
}

/** One mount, in the order runc performs them. */
export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** The container's init process. */
export interface Process {
  terminal?: boolean;
  user: User;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: LinuxCapabilities;
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

/** Who the process runs as. */
export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** Capability sets by name (`CAP_CHOWN`…). */
export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

/** The Linux section. */
export interface Linux {
  sysctl?: Record<string, string>;
  resources?: LinuxResources;
  cgroupsPath?: string;
  namespaces?: LinuxNamespace[];
  devices?: LinuxDevice[];
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: string;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
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
  type: LinuxNamespaceType;
  path?: string;
}

/** A device node the runtime creates in the container's `/dev`. */
export interface LinuxDevice {
  path: string;
  /** `c`, `b`, `u` or `p`. */
  type: string;
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

/** One rule of the device cgroup (allow or deny). */
export interface LinuxDeviceCgroup {
  allow: boolean;
  /** `a`, `c` or `b`; absent means all. */
  type?: string;
  major?: number;
  minor?: number;
  /** Some of `r`, `w`, `m`. */
  access?: string;
}

/** cgroup limits. */
export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  hugepageLimits?: LinuxHugepageLimit[];
  unified?: Record<string, string>;
}

/** Memory limits in bytes; `swap` is memory+swap (cgroup v1 semantics, as the spec says). */
export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
}

/** CPU limits. */
export interface LinuxCPU {
  shares?: number;
  quota?: number;
  period?: number;
  cpus?: string;
  mems?: string;
}

/** Task limit. */
export interface LinuxPids {
  limit: number;
}

/** Huge page limit per page size (`2MB`, `1GB`). */
export interface LinuxHugepageLimit {
  pageSize: string;
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
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

/** A rule for a group of syscalls. */
export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** A condition on one syscall argument. */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: LinuxSeccompOperator;
}
