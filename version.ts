/**
 * The version of sauropod and of the CRI it speaks. One place, read by `version`, the
 * Version RPC and the shim's hello.
 *
 * @module
 */

/** sauropod's own version (semver). */
export const VERSION = "0.1.0";
/** The runtime name reported by the Version RPC (crictl version shows it). */
export const RUNTIME_NAME = "sauropod";
/** The CRI API version served. */
export const CRI_API_VERSION = "v1";
/** The Kubernetes CRI wire version the kubelet checks in VersionResponse.version. */
export const KUBE_API_VERSION = "0.1.0";
