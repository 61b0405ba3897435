/**
 * Annotation keys written into specs. The `io.kubernetes.cri.*` ones are containerd's
 * (`internal/cri/annotations/annotations.go`), which Kata, gVisor, NRI plugins and node
 * agents read. They are written after the pod's and container's own annotations, which reach
 * a spec only through the operator's allowlist ({@link passthroughAnnotations}), so a
 * client can neither spoof them nor pass `run.oci.*` or `org.systemd.property.*` (which crun
 * and runc act on) unless the operator allows it.
 *
 * @module
 */
import { globMatcher } from "../lib/glob.ts";

/** `sandbox` or `container`. */
export const CONTAINER_TYPE = "io.kubernetes.cri.container-type";
/** Value of {@link CONTAINER_TYPE} for a pod's sandbox (pause) container. */
export const CONTAINER_TYPE_SANDBOX = "sandbox";
/** Value of {@link CONTAINER_TYPE} for an application container. */
export const CONTAINER_TYPE_CONTAINER = "container";
/** The pod sandbox id. */
export const SANDBOX_ID = "io.kubernetes.cri.sandbox-id";
/** The pod's name. */
export const SANDBOX_NAME = "io.kubernetes.cri.sandbox-name";
/** The pod's Kubernetes namespace. */
export const SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace";
/** The pod's uid. */
export const SANDBOX_UID = "io.kubernetes.cri.sandbox-uid";
/** The pod's log directory (sandbox containers only). */
export const SANDBOX_LOG_DIRECTORY = "io.kubernetes.cri.sandbox-log-directory";
/** The sandbox image (sandbox containers only). */
export const SANDBOX_IMAGE_NAME = "io.kubernetes.cri.podsandbox.image-name";
/** The pod's CPU period from its resources (sandbox containers only). */
export const SANDBOX_CPU_PERIOD = "io.kubernetes.cri.sandbox-cpu-period";
/** The pod's CPU quota from its resources (sandbox containers only). */
export const SANDBOX_CPU_QUOTA = "io.kubernetes.cri.sandbox-cpu-quota";
/** The pod's CPU shares from its resources (sandbox containers only). */
export const SANDBOX_CPU_SHARES = "io.kubernetes.cri.sandbox-cpu-shares";
/** The pod's memory limit from its resources (sandbox containers only). */
export const SANDBOX_MEMORY = "io.kubernetes.cri.sandbox-memory";
/** The container's name in the pod (application containers only). */
export const CONTAINER_NAME = "io.kubernetes.cri.container-name";
/** The image the container was created from (application containers only). */
export const IMAGE_NAME = "io.kubernetes.cri.image-name";

/**
 * The annotations of `from` whose keys match one of `patterns` (glob, Go's `path.Match`):
 * containerd's GetPassthroughAnnotations, for the operator's `pod_annotations` and
 * `container_annotations`. No pattern, no annotation.
 */
export function passthroughAnnotations(
  from: Readonly<Record<string, string>>,
  patterns: readonly string[],
): Record<string, string> {
  if (patterns.length === 0) return {};
  const allowed = globMatcher(patterns);
  return Object.fromEntries(Object.entries(from).filter(([k]) => allowed(k)));
}

/** Which pod and container annotations reach OCI specs (`runtime.*_annotations`). */
export interface AnnotationAllowlist {
  /** Patterns of pod annotations passed to the pause container's and the containers' specs. */
  pod: readonly string[];
  /** Patterns of container annotations passed to the container's spec. */
  container: readonly string[];
}
