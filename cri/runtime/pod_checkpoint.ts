/**
 * CheckpointPod (KEP-5823): the listed containers of a pod checkpointed together into the
 * directory `output_path`.
 *
 * @module
 */
import type { CheckpointPodRequest, CheckpointPodResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { checkpointPod as checkpoint } from "../../runtime/checkpoint/pod.ts";
import { absolutePath, id, stringMap } from "../validate.ts";
import { invalidArgument } from "../../errors/mod.ts";
import type { HandlerContext } from "../context.ts";

/** The CheckpointPod handler. */
export function checkpointPod(
  core: RuntimeCore,
): (req: CheckpointPodRequest, ctx: HandlerContext) => Promise<CheckpointPodResponse> {
  return async (req, ctx) => {
    const podId = id(req.podSandboxId, "pod_sandbox_id");
    absolutePath(req.outputPath, "output_path");
    if (req.containerIds.length === 0) throw invalidArgument("container_ids is empty");
    const seen = new Set<string>();
    req.containerIds.forEach((c, i) => {
      id(c, `container_ids[${i}]`);
      if (seen.has(c)) {
        throw invalidArgument(`container_ids[${i}] ${JSON.stringify(c)} is listed twice`);
      }
      seen.add(c);
    });
    stringMap(req.options, "options");
    await checkpoint(core, podId, req.outputPath, req.containerIds, req.options, ctx.deadline);
    return {};
  };
}
