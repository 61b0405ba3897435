/**
 * The OCI runtime spec builder: CRI container and pod configs, the image config and facts the
 * runtime gathered about the host → the `config.json` runc runs. Every function here is pure
 * (no file, process or clock), so the rules are tested exhaustively without root.
 *
 * - {@link buildContainerSpec}: CreateContainer's spec.
 * - {@link buildSandboxSpec}: the pause container's, for pods sharing a PID namespace.
 * - {@link linuxResourcesFromCri}: CRI resources → OCI resources (also UpdateContainerResources).
 * - {@link resolveUser}: a user string against the image's passwd/group.
 * - {@link localhostSeccompProfilePath}: which seccomp file the runtime must read first.
 *
 * - {@link apparmorRequest}: which AppArmor profile a security context asks for (the
 *   runtime resolves it on the node); {@link defaultProfileText}: sauropod's default profile.
 *
 * SELinux labels are not applied: SELinux options are ignored on a node without SELinux and
 * refused on one with it. Refused as unimplemented: user namespaces and id-mapped mounts.
 *
 * @module
 */
export * from "./spec.ts";
export * as annotations from "./annotations.ts";
export { passthroughAnnotations } from "./annotations.ts";
export type { AnnotationAllowlist } from "./annotations.ts";
export {
  apparmorRequest,
  DEFAULT_PROFILE_PREFIX,
  defaultProfile,
  defaultProfileText,
  parseProfileList,
} from "./apparmor.ts";
export type { AppArmorRequest, AppArmorSource, DefaultProfileInputs } from "./apparmor.ts";
export {
  canonicalCapability,
  capabilitiesFromMask,
  containerCapabilities,
  DEFAULT_CAPABILITIES,
  KNOWN_CAPABILITIES,
} from "./capabilities.ts";
export type { CapabilityRequest } from "./capabilities.ts";
export { buildContainerSpec } from "./container.ts";
export type { ContainerNamespaces, ContainerSpecInputs } from "./container.ts";
export type { NodeFacts } from "./_common.ts";
export { defaultDeviceRules } from "./devices.ts";
export type { DeviceFacts, HostDevice, HostPathFacts, HostPaths } from "./host.ts";
export { defaultMounts } from "./mounts.ts";
export type { PodMounts } from "./mounts.ts";
export { DEFAULT_PATH, mergeArgs, mergeEnv } from "./process.ts";
export type { ImageConfigFacts } from "./process.ts";
export { linuxResourcesFromCri, mergeCriResources, restrictOomScoreAdj } from "./resources.ts";
export type { OomScoreAdjPolicy, ResourceOptions } from "./resources.ts";
export { buildSandboxSpec, SANDBOX_CPU_SHARES_DEFAULT, SANDBOX_OOM_SCORE_ADJ } from "./sandbox.ts";
export type { SandboxSpecInputs } from "./sandbox.ts";
export {
  defaultSeccompProfile,
  localhostSeccompProfilePath,
  parseSeccompProfile,
} from "./seccomp.ts";
export type { SeccompSource } from "./seccomp.ts";
export { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./_security.ts";
export { checkSysctls, sysctlNamespace } from "./sysctls.ts";
export type { SysctlNamespace } from "./sysctls.ts";
export { MAX_ID, parseGroup, parsePasswd, resolveUser } from "./user.ts";
export type { GroupEntry, PasswdEntry, ResolvedUser, ResolveUserInput } from "./user.ts";
