/**
 * CheckpointPod and RestorePod (KEP-5823).
 *
 * @module
 */
import { unimplemented } from "../../errors/mod.ts";
import type { ContainerConfig, PodSandboxConfig } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import { requireCheckpointCapability } from "./capability.ts";

/** Checkpoints containers of pod `podId` into the directory `outputPath`. */
export async function checkpointPod(
  core: RuntimeCore,
  podId: string,
  _outputPath: string,
  _containerIds: string[],
  _options: Record<string, string>,
): Promise<void> {
  await requireCheckpointCapability(core, "CheckpointPod");
  core.sandbox(podId);
  throw unimplemented("CheckpointPod is not implemented by sauropod yet");
}

/** Restores the pod checkpoint at `checkpointPath` into a new pod. */
export async function restorePod(
  core: RuntimeCore,
  _checkpointPath: string,
  _config: PodSandboxConfig,
  _handler: string,
  _containers: ContainerConfig[],
): Promise<{ podSandboxId: string; restoredContainers: { name: string; containerId: string }[] }> {
  await requireCheckpointCapability(core, "RestorePod");
  throw unimplemented("RestorePod is not implemented by sauropod yet");
}
