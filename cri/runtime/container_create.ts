/**
 * CreateContainer: validate the container config, then create it.
 *
 * @module
 */
import {
  type ContainerConfig,
  type CreateContainerRequest,
  type CreateContainerResponse,
  type Mount,
  MountPropagation,
  WindowsContainerConfig,
} from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { createContainer as create } from "../../runtime/container/create.ts";
import type { HandlerContext } from "../context.ts";
import {
  absolutePath,
  id,
  inRange,
  name,
  nonEmpty,
  noNul,
  relativePath,
  required,
  stringMap,
} from "../validate.ts";
import { invalidArgument } from "../../errors/mod.ts";

/** Validates the fields of a container config that reach the kernel or the disk. */
export function validateContainerConfig(c: ContainerConfig, f = "config"): void {
  const m = required(c.metadata, `${f}.metadata`);
  name(m.name, `${f}.metadata.name`);
  inRange(m.attempt, 0, 2 ** 32 - 1, `${f}.metadata.attempt`);
  nonEmpty(required(c.image, `${f}.image`).image, `${f}.image.image`, 4096);
  c.command.forEach((s, i) => noNul(s, `${f}.command[${i}]`));
  c.args.forEach((s, i) => noNul(s, `${f}.args[${i}]`));
  if (c.workingDir) absolutePath(c.workingDir, `${f}.working_dir`);
  c.envs.forEach((e, i) => {
    if (e.key === "") throw invalidArgument(`${f}.envs[${i}].key is empty`);
    if (e.key.includes("=")) {
      throw invalidArgument(`${f}.envs[${i}].key ${JSON.stringify(e.key)} contains "="`);
    }
    noNul(e.key, `${f}.envs[${i}].key`);
    if (e.value.includes(0)) throw invalidArgument(`${f}.envs[${i}].value contains a NUL byte`);
  });
  c.mounts.forEach((mt, i) => {
    absolutePath(mt.containerPath, `${f}.mounts[${i}].container_path`);
    if (mt.image) return validateImageVolume(mt, `${f}.mounts[${i}]`);
    if (mt.imageSubPath !== "") {
      throw invalidArgument(`${f}.mounts[${i}].image_sub_path is set but image is not`);
    }
    if (mt.hostPath === "") {
      throw invalidArgument(`${f}.mounts[${i}].host_path is empty (and image is not set)`);
    }
    absolutePath(mt.hostPath, `${f}.mounts[${i}].host_path`);
  });
  c.devices.forEach((d, i) => {
    absolutePath(d.containerPath, `${f}.devices[${i}].container_path`);
    absolutePath(d.hostPath, `${f}.devices[${i}].host_path`);
    if (d.permissions && !/^[rwm]{1,3}$/.test(d.permissions)) {
      throw invalidArgument(
        `${f}.devices[${i}].permissions ${JSON.stringify(d.permissions)} must be made of r, w, m`,
      );
    }
  });
  if (c.logPath) relativePath(c.logPath, `${f}.log_path`);
  if (c.windows && WindowsContainerConfig.encode(c.windows).finish().length > 0) {
    throw invalidArgument(`${f}.windows: Windows container settings on a Linux node`);
  }
  stringMap(c.labels, `${f}.labels`);
  stringMap(c.annotations, `${f}.annotations`);
}

/**
 * An image volume (`Mount.image`, KEP-4639): the image's files, read-only, at
 * container_path. As containerd, host_path must be empty and readonly set; it is a private
 * mount (it has nothing to propagate).
 */
function validateImageVolume(mt: Mount, f: string): void {
  nonEmpty(mt.image!.image, `${f}.image.image`, 4096);
  if (mt.hostPath !== "") {
    throw invalidArgument(`${f}.host_path must be empty for an image volume (image is set)`);
  }
  if (!mt.readonly) {
    throw invalidArgument(`${f}.readonly must be true: an image volume is read-only`);
  }
  if (mt.propagation !== MountPropagation.PROPAGATION_PRIVATE) {
    throw invalidArgument(`${f}.propagation must be private for an image volume`);
  }
  if (mt.imageSubPath !== "") {
    nonEmpty(mt.imageSubPath, `${f}.image_sub_path`, 4096);
    relativePath(mt.imageSubPath, `${f}.image_sub_path`);
  }
}

/** The CreateContainer handler. */
export function createContainer(
  core: RuntimeCore,
): (req: CreateContainerRequest, ctx: HandlerContext) => Promise<CreateContainerResponse> {
  return async (
    req: CreateContainerRequest,
    ctx: HandlerContext,
  ): Promise<CreateContainerResponse> => {
    const podId = id(req.podSandboxId, "pod_sandbox_id");
    const config = required(req.config, "config");
    validateContainerConfig(config);
    return {
      containerId: await create(core, podId, config, req.sandboxConfig, ctx.signal),
    };
  };
}
