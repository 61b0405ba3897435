/**
 * RestorePod (KEP-5823): a pod checkpoint restored into a new pod whose containers come
 * back CREATED, for the kubelet to start.
 *
 * @module
 */
import type { RestorePodRequest, RestorePodResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { restorePod as restore } from "../../runtime/checkpoint/pod.ts";
import { absolutePath, required, stringMap } from "../validate.ts";
import { invalidArgument } from "../../errors/mod.ts";
import { validateContainerConfig } from "./container_create.ts";
import type { HandlerContext } from "../context.ts";
import { validatePodConfig } from "./pod_run.ts";

/** The RestorePod handler. */
export function restorePod(
  core: RuntimeCore,
): (req: RestorePodRequest, ctx: HandlerContext) => Promise<RestorePodResponse> {
  return async (req, ctx) => {
    absolutePath(req.checkpointPath, "checkpoint_path");
    const config = required(req.config, "config");
    validatePodConfig(config);
    stringMap(req.options, "options");
    if (req.containerConfigs.length === 0) throw invalidArgument("container_configs is empty");
    req.containerConfigs.forEach((c, i) => validateContainerConfig(c, `container_configs[${i}]`));
    return await restore(
      core,
      req.checkpointPath,
      config,
      req.runtimeHandler,
      req.options,
      req.containerConfigs,
      ctx.signal,
    );
  };
}
