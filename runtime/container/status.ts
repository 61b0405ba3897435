/**
 * ContainerStatus: the CRI status of a container, answered from memory, never by asking its
 * shim (per-request fan-out to shims is what melts nodes at density: containerd#7246).
 * `verbose` adds containerd's "info" document, with the runtime spec read from the bundle.
 *
 * @module
 */
import { ContainerState, type ContainerStatus, type ImageSpec, Signal } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import type { Container } from "../records.ts";

/** The CRI state of each container state. */
export const CONTAINER_STATE = {
  created: ContainerState.CONTAINER_CREATED,
  running: ContainerState.CONTAINER_RUNNING,
  exited: ContainerState.CONTAINER_EXITED,
  unknown: ContainerState.CONTAINER_UNKNOWN,
};

/** ContainerStatus of container `id` (or a unique prefix), with the info map when `verbose`. */
export async function containerStatus(
  core: RuntimeCore,
  id: string,
  verbose: boolean,
): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
  const c = core.container(id);
  const info: Record<string, string> = {};
  if (verbose) {
    const spec = await Deno.readTextFile(`${c.doc.bundle}/config.json`).catch(() => "null");
    info.info = JSON.stringify({
      sandboxID: c.doc.sandboxId,
      pid: c.doc.pid,
      bundle: c.doc.bundle,
      rootfs: c.doc.rootfs,
      cgroupsPath: c.doc.cgroupsPath,
      runtimeSpec: JSON.parse(spec),
    });
  }
  return { status: containerStatusOf(c), info };
}

/** The CRI Signal enum value of a signal name (`SIGTERM` → SIGNAL_SIGTERM), 0 when unknown. */
function criSignal(name: string): Signal {
  const key = `SIGNAL_${
    name.toUpperCase().startsWith("SIG") ? name.toUpperCase() : `SIG${name.toUpperCase()}`
  }`;
  const v = (Signal as unknown as Record<string, number>)[key];
  return typeof v === "number" ? v : Signal.SIGNAL_RUNTIME_DEFAULT;
}

/** The CRI image spec of a container. */
export function imageSpecOf(c: Container): ImageSpec {
  const i = c.config.image;
  return {
    image: c.doc.imageName,
    annotations: i?.annotations ?? {},
    userSpecifiedImage: i?.userSpecifiedImage ?? "",
    runtimeHandler: i?.runtimeHandler ?? "",
    imageRef: c.doc.imageId,
  };
}

/** The CRI status of a container (also carried by events and PodSandboxStatus). */
export function containerStatusOf(c: Container): ContainerStatus {
  return {
    id: c.doc.id,
    metadata: c.config.metadata,
    state: CONTAINER_STATE[c.doc.state],
    createdAt: BigInt(c.doc.createdAtNs),
    startedAt: BigInt(c.doc.startedAtNs),
    finishedAt: BigInt(c.doc.finishedAtNs),
    exitCode: c.doc.exitCode,
    image: imageSpecOf(c),
    imageRef: c.doc.imageRef,
    reason: c.doc.reason,
    message: c.doc.message,
    labels: c.config.labels,
    annotations: c.config.annotations,
    mounts: c.config.mounts,
    logPath: c.doc.logPath,
    resources: c.resources
      ? { linux: c.resources, windows: undefined }
      : c.config.linux?.resources
      ? { linux: c.config.linux.resources, windows: undefined }
      : undefined,
    imageId: c.doc.imageId,
    user: c.doc.user
      ? {
        linux: {
          uid: BigInt(c.doc.user.uid),
          gid: BigInt(c.doc.user.gid),
          supplementalGroups: c.doc.user.additionalGids.map(BigInt),
        },
      }
      : undefined,
    stopSignal: criSignal(c.doc.stopSignal),
  };
}
