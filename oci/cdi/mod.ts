/**
 * CDI (Container Device Interface, cncf-tags/container-device-interface): spec files,
 * device names, resolution against the configured directories, and the edits applied to a
 * container's OCI spec. Pure; the runtime reads the files and stats the host nodes.
 *
 * @module
 */
export { CDI_VERSIONS, HOOK_NAMES, parseCdiSpec } from "./spec.ts";
export type { CdiDevice, CdiDeviceNode, CdiEdits, CdiHook, CdiMount, CdiSpec } from "./spec.ts";
export { parseQualifiedName } from "./names.ts";
export type { QualifiedName } from "./names.ts";
export { resolveCdiDevices } from "./registry.ts";
export type { BrokenSpec, CdiRegistry, CdiRequest, ResolvedDevice } from "./registry.ts";
export { applyCdiDevices, cdiHostPaths } from "./apply.ts";
export type { CdiHostNode } from "./apply.ts";
export { CDI_ANNOTATION_PREFIX, cdiRequests } from "./requests.ts";
