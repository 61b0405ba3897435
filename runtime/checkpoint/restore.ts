/**
 * Restore through CreateContainer (CRI-O's way, and containerd's until 2.4): an image that
 * names a checkpoint archive on the node makes a container whose StartContainer restores
 * it with `runc restore` instead of starting a new process.
 *
 * At create the archive is read as hostile input (`checkpoint/read.ts`), the base image is
 * the one `config.dump` names (present on the node, or NOT_FOUND naming it: the kubelet
 * pulls only what the pod names), the checkpoint must come from this runtime, every bind
 * mount the checkpointed container had must be in the new request (one error listing the
 * missing ones), and the tty must match. The rootfs diff fills the new writable layer
 * before it is mounted, the deleted files are removed beneath the mounted rootfs, and the
 * old CRI log is the start of the new one.
 *
 * @module
 */
import type { ContainerConfig } from "../../api/gen/api.ts";
import { failedPrecondition, invalidArgument, notFound } from "../../errors/mod.ts";
import { CHECKPOINT_ANNOTATIONS, type ImageRecord } from "../../image/mod.ts";
import { type Checkpoint, readCheckpointArchive, readCheckpointDir } from "../../checkpoint/mod.ts";
import type { RuntimeCore } from "../core.ts";
import type { Sandbox } from "../records.ts";
import type { RestoreSpec } from "../../shim/client/mod.ts";
import { requireCheckpointCapability } from "./capability.ts";
import { recordedRuntime } from "../shim_runtime.ts";

/** Mounts every runtime makes itself: a checkpoint's copy of them needs no request mount. */
const IGNORED_MOUNTS = new Set([
  "/proc",
  "/dev",
  "/dev/pts",
  "/dev/mqueue",
  "/sys",
  "/sys/fs/cgroup",
  "/dev/shm",
  "/etc/resolv.conf",
  "/etc/hostname",
  "/etc/hosts",
  "/etc/passwd",
  "/etc/group",
  "/run/secrets",
  "/run/.containerenv",
  "/dev/termination-log",
]);

/** A checkpoint read for a new container, and the image its rootfs comes from. */
export interface RestorePlan {
  checkpoint: Checkpoint;
  image: ImageRecord;
}

/** Where a restore comes from. */
export type RestoreSource =
  | { kind: "archive"; path: string }
  | { kind: "pod"; path: string }
  | { kind: "image"; path: string; image: string };

/**
 * The checkpoint `image` carries, when it is a checkpoint image (any of the CRI-O,
 * checkpointctl or older checkpointctl name annotations, on its manifest or index): its
 * unpacked layer. An annotation that names nothing is invalid-argument naming it.
 */
export function checkpointImageSource(
  core: RuntimeCore,
  image: ImageRecord,
  name: string,
): RestoreSource | undefined {
  const a = image.checkpointAnnotations ?? {};
  const key = CHECKPOINT_ANNOTATIONS.find((k) => k in a);
  if (!key) return undefined;
  if (!a[key]?.trim()) {
    throw invalidArgument(
      `config.image: image ${JSON.stringify(name)} is marked a checkpoint (${key}) but the ` +
        "annotation names no container",
    );
  }
  const path = core.deps.images.topLayerDir?.(image);
  if (!path) {
    throw failedPrecondition(
      `config.image: the layer of checkpoint image "${name}" is not unpacked`,
    );
  }
  return { kind: "image", path, image: name };
}

/** Does `image` name a checkpoint archive on this node (an existing regular file)? */
export async function namesCheckpointArchive(image: string): Promise<boolean> {
  if (!image.startsWith("/")) return false;
  try {
    return (await Deno.stat(image)).isFile;
  } catch {
    return false;
  }
}

/** Runtime names a checkpoint may come from to be restored by `binary`. */
function compatibleRuntimes(binary: string): Set<string> {
  const name = binary.split("/").pop() ?? binary;
  const out = new Set(["", name]);
  if (name === "runc") out.add("io.containerd.runc.v2");
  return out;
}

/**
 * Reads the archive `config.image.image` into `dir` (new) and checks it against the request
 * and pod. On failure the caller removes `dir`.
 */
export async function planRestore(
  core: RuntimeCore,
  sandbox: Sandbox,
  config: ContainerConfig,
  dir: string,
  source: RestoreSource,
): Promise<RestorePlan> {
  const archive = source.kind === "image" ? `image ${source.image}` : source.path;
  const checkpoint = source.kind === "archive"
    ? await readCheckpointArchive(source.path, dir)
    : await readCheckpointDir(source.path, dir);
  const cfg = checkpoint.config;
  const binary = recordedRuntime(core, sandbox.doc.handler).binary;
  const runtimes = compatibleRuntimes(binary);
  if (!runtimes.has(cfg.runtime ?? "")) {
    throw failedPrecondition(
      `checkpoint ${archive} was made by runtime "${cfg.runtime}", which pod "${sandbox.doc.id}" ` +
        `(runtime handler "${sandbox.doc.runtimeHandler}", ${binary}) cannot restore`,
    );
  }
  const refs = [cfg.rootfsImageRef, cfg.rootfsImageName].filter((r): r is string => !!r);
  if (refs.length === 0) {
    throw invalidArgument(`checkpoint ${archive}: config.dump names no rootfs image`);
  }
  let image: ImageRecord | undefined;
  for (const r of refs) {
    image = core.deps.images.resolve(r);
    if (image) break;
  }
  if (!image) {
    throw notFound(
      `the image of checkpoint ${archive} (${refs.join(", ")}) is not on this node: pull it first`,
    );
  }
  if (source.kind === "pod") {
    // RestorePod: the request names the image; it must be the checkpoint's.
    const asked = core.deps.images.resolve(config.image?.image ?? "");
    if (asked?.id !== image.id) {
      throw invalidArgument(
        `config.image: ${JSON.stringify(config.image?.image)} is not the image of the ` +
          `checkpointed container "${cfg.name}" (${refs.join(", ")})`,
      );
    }
  }
  const wanted = new Set(config.mounts.map((m) => m.containerPath.replace(/\/+$/, "")));
  const missing = (checkpoint.spec.mounts ?? [])
    .filter((m) => m.type === "bind" || m.type === undefined)
    .map((m) => m.destination.replace(/\/+$/, ""))
    .filter((d) => !IGNORED_MOUNTS.has(d) && !wanted.has(d));
  if (missing.length) {
    throw invalidArgument(
      `config.mounts: restoring ${JSON.stringify(cfg.name)} expects these bind mounts, ` +
        `missing from the request: ${missing.join(", ")}`,
    );
  }
  const terminal = checkpoint.spec.process?.terminal === true;
  if (terminal !== config.tty) {
    throw invalidArgument(
      `config.tty is ${config.tty}, but the checkpointed container ${
        terminal ? "had" : "had no"
      } terminal`,
    );
  }
  // Last: a request that is wrong whatever CRIU can do hears what is wrong with it.
  await requireCheckpointCapability(core, "CreateContainer (restore)");
  return { checkpoint, image };
}

/** The shim's restore parameters for a plan whose directory now is `dir`. */
export function restoreSpecOf(plan: RestorePlan, dir: string): RestoreSpec {
  return {
    imagePath: `${dir}/checkpoint`,
    workPath: `${dir}/work`,
    ...plan.checkpoint.options,
  };
}

/** Appends the checkpointed container's CRI log to the new one (created 0640 if absent). */
export async function carryLog(from: string | undefined, to: string): Promise<void> {
  if (!from || !to) return;
  using out = await Deno.open(to, { create: true, append: true, mode: 0o640 });
  using src = await Deno.open(from, { read: true });
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await src.read(buf);
    if (n === null) break;
    let off = 0;
    while (off < n) off += await out.write(buf.subarray(off, n));
  }
}
