/**
 * CreateContainer: reserve the name in the pod, resolve the image, mount the rootfs
 * snapshot, build the OCI spec, write the bundle and have a new shim `runc create` it.
 *
 * As in RunPodSandbox, the record goes first (phase `creating`) and every step pushes its
 * undo: a failure leaves no shim, runc container, mount, bundle or record behind.
 *
 * @module
 */
import type { ContainerConfig, PodSandboxConfig } from "../../api/gen/api.ts";
import { alreadyExists, invalidArgument, notFound } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";
import { containerTransition } from "../state.ts";
import { containerNameKey, newId } from "../ids.ts";
import { nowNs } from "../../lib/clock.ts";
import { type Container, type ContainerDoc, encodeContainerConfig } from "../records.ts";
import { containerSpec } from "../oci_spec.ts";
import { atomicWrite } from "../../lib/fs.ts";
import { shimRuntime } from "../shim_runtime.ts";
import { faultPoint } from "../faults.ts";
import { mkdirPrivate, PRIVATE_FILE } from "../modes.ts";
import { Spans } from "../../lib/spans.ts";
import type { ImageRecord } from "../../image/mod.ts";
import { resolveStopSignal } from "../stop_signal.ts";

/** Creates a container in pod `sandboxId`; returns its id. */
export async function createContainer(
  core: RuntimeCore,
  sandboxId: string,
  config: ContainerConfig,
  _sandboxConfig: PodSandboxConfig | undefined,
  signal?: AbortSignal,
): Promise<string> {
  const sandbox = core.sandbox(sandboxId);
  // Where the time goes, logged with "container created" (bench/profile.ts reads it): each
  // span is the milliseconds since the previous mark.
  const spans = new Spans();
  return await core.locks.run(sandbox.doc.id, async () => {
    spans.mark("lockMs");
    core.requireReady(sandbox, `create container "${config.metadata?.name}"`);
    const sm = sandbox.config.metadata!;
    const nameKey = containerNameKey(config.metadata!, sm);
    const logPath = config.logPath && sandbox.config.logDirectory
      ? `${sandbox.config.logDirectory.replace(/\/+$/, "")}/${config.logPath}`
      : "";
    const holder = core.containerNames.get(nameKey);
    if (holder) {
      throw alreadyExists(
        `container name "${nameKey}" is already reserved for container "${holder}"`,
      );
    }
    if (logPath) await checkLogPath(logPath);
    const imageGiven = config.image?.image ?? "";
    const image = core.deps.images.resolve(imageGiven);
    if (!image) throw notFound(`image "${imageGiven}" not found: pull it first`);
    const imageName = imageNameOf(config, imageGiven, image);
    const volumeImages = resolveImageVolumes(core, config);
    // The pod spec's stop signal (KEP-4960) wins over the image's STOPSIGNAL.
    const stopSignal = resolveStopSignal(config.stopSignal, image.config.stopSignal, imageName);

    const id = core.deps.shims.takeSpare(sandbox.doc.id) ?? newId();
    core.containerNames.set(nameKey, id);
    await using undo = new AsyncDisposableStack();
    undo.defer(() => {
      if (core.containerNames.get(nameKey) === id) core.containerNames.delete(nameKey);
    });

    const bundle = `${core.config.root}/containers/${id}`;
    const rootfs = `${bundle}/rootfs`;
    const doc: ContainerDoc = {
      id,
      sandboxId: sandbox.doc.id,
      config: encodeContainerConfig(config),
      imageName,
      imageId: image.id,
      // The id, as PullImage answers and Container.image_id carries (the CRI since 1.36).
      imageRef: image.id,
      createdAtNs: nowNs().toString(),
      startedAtNs: "0",
      finishedAtNs: "0",
      exitCode: 0,
      reason: "",
      message: "",
      state: "created",
      phase: "creating",
      bundle,
      rootfs,
      logPath,
      cgroupsPath: core.deps.cgroups.cgroupsPath(sandbox.doc.cgroupParent, id),
      stopSignal,
      pid: 0,
    };
    if (volumeImages.length > 0) {
      doc.imageVolumes = volumeImages.map(({ mount, image }) => ({
        mount,
        imageId: image.id,
        path: `${bundle}/volumes/${mount}`,
      }));
    }
    const c: Container = { doc, config, nameKey };
    const log = core.log.with({
      podId: sandbox.doc.id,
      containerId: id,
      name: config.metadata?.name,
    });

    spans.mark("prepareMs");
    core.containers.set(id, c);
    core.saveContainer(c);
    spans.mark("recordMs");
    undo.defer(() => containerTransition(core, c, "discarded"));

    await faultPoint(core, "container-create:after-record");
    // containers/ and containers/<id>/ are 0700: the bundle holds the pod's env and the
    // rootfs the image's setuid binaries (see modes.ts). The mount point's own mode is
    // hidden by the overlay's root.
    await mkdirPrivate(rootfs);
    undo.defer(() => Deno.remove(bundle, { recursive: true }).catch(() => {}));
    if (logPath) {
      // The kubelet's log tree: its directories are 0755, as containerd makes them.
      await Deno.mkdir(logPath.slice(0, logPath.lastIndexOf("/")), {
        recursive: true,
        mode: 0o755,
      });
    }
    spans.mark("dirsMs");

    // The shim process starts while the rootfs is mounted and the spec written: its
    // `runc create` waits for the bundle.
    const bundleReady = Promise.withResolvers<void>();
    // The manager may fail before it waits for the bundle: never leave a rejection unheard.
    bundleReady.promise.catch(() => {});
    const shimCreated = core.deps.shims.create({
      id,
      bundle,
      runtime: shimRuntime(core),
      ...(logPath ? { logPath } : {}),
      tty: config.tty,
      stdin: config.stdin,
      stdinOnce: config.stdinOnce,
      bundleReady: bundleReady.promise,
    });
    try {
      const mounted = await core.deps.images.mountRootfs(id, image, rootfs, {
        readonly: config.linux?.securityContext?.readonlyRootfs ?? false,
      });
      doc.upperDir = mounted.upperDir;
      spans.mark("mountMs");
      await faultPoint(core, "container-create:after-mount");
      undo.defer(() => core.deps.images.unmountRootfs(id, rootfs));
      if (volumeImages.length > 0) {
        await mkdirPrivate(`${bundle}/volumes`);
        undo.defer(() => core.deps.images.unmountVolumes(`${bundle}/volumes`));
        for (const { mount, image: img } of volumeImages) {
          const path = `${bundle}/volumes/${mount}`;
          await mkdirPrivate(path);
          const subPath = config.mounts[mount]!.imageSubPath;
          core.deps.images.mountVolume(
            img,
            path,
            subPath,
            `config.mounts[${mount}].image_sub_path`,
          );
        }
        spans.mark("volumesMs");
        await faultPoint(core, "container-create:after-volumes");
      }
      if (signal?.aborted) throw signal.reason;
      const spec = await containerSpec(core, sandbox, c, image);
      const u = spec.process?.user;
      if (u) doc.user = { uid: u.uid, gid: u.gid, additionalGids: u.additionalGids ?? [] };
      spans.mark("specMs");
      // Not fsynced: runc reads it at once, and no container of it survives a power cut.
      await atomicWrite(`${bundle}/config.json`, JSON.stringify(spec), {
        mode: PRIVATE_FILE,
        durable: false,
      });
      spans.mark("writeMs");
      bundleReady.resolve();
    } catch (err) {
      // The manager undoes a shim whose create it aborts; wait for that before undoing more.
      bundleReady.reject(err);
      await shimCreated.then((s) => s.delete(), () => {}).catch(() => {});
      throw err;
    }
    const shim = await shimCreated;
    spans.mark("shimMs");
    undo.defer(() => shim.delete().catch(() => {}));
    c.shim = shim;
    doc.pid = shim.initPid;
    await faultPoint(core, "container-create:after-shim");
    containerTransition(core, c, "created");
    spans.mark("savedMs");
    undo.move();
    log.info("container created", {
      image: imageName,
      ...spans.fields(),
      ...(shim.createTimings ?? {}),
    });
    return id;
  });
}

/**
 * The image's name as the container was created with it, for ContainerStatus.image (what
 * kubectl shows): the pod spec's name the kubelet passes as `user_specified_image`; else
 * `image` as given, unless that is the image's id (what the kubelet passes there since it
 * pulls by reference), which names it by its first tag as containerd does.
 */
function imageNameOf(config: ContainerConfig, given: string, image: ImageRecord): string {
  const user = config.image?.userSpecifiedImage ?? "";
  if (user !== "") return user;
  const hex = given.replace(/^sha256:/, "");
  const isId = /^[0-9a-f]+$/.test(hex) && image.id === `sha256:${hex}`;
  return isId ? image.repoTags[0] ?? given : given;
}

/**
 * The images of the config's image volumes (`Mount.image`), which must be on the node: the
 * kubelet pulls them before it creates the container, as it does the container's image.
 */
function resolveImageVolumes(
  core: RuntimeCore,
  config: ContainerConfig,
): { mount: number; image: ImageRecord }[] {
  const out: { mount: number; image: ImageRecord }[] = [];
  config.mounts.forEach((m, i) => {
    if (!m.image) return;
    const ref = m.image.image;
    const image = core.deps.images.resolve(ref) ??
      (m.image.imageRef ? core.deps.images.resolve(m.image.imageRef) : undefined);
    if (!image) {
      throw notFound(
        `config.mounts[${i}].image: image "${ref}" is not present on the node; pull it ` +
          "before creating a container that mounts it",
      );
    }
    out.push({ mount: i, image });
  });
  return out;
}

/** The log path must be a file (or not exist yet): a directory there is the caller's mistake. */
async function checkLogPath(path: string): Promise<void> {
  try {
    const st = await Deno.lstat(path);
    if (!st.isFile) {
      throw invalidArgument(
        `config.log_path: ${JSON.stringify(path)} exists and is not a regular file`,
      );
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}
