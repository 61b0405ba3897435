/**
 * The gate of every checkpoint and restore: on a node where CRIU cannot run, the call is
 * FAILED_PRECONDITION with CRIU's own reason (and Status says the same).
 *
 * @module
 */
import { failedPrecondition } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";

/** Throws FAILED_PRECONDITION naming `rpc` and the reason unless checkpoint/restore can run. */
export async function requireCheckpointCapability(core: RuntimeCore, rpc: string): Promise<void> {
  const probe = core.deps.checkpoint;
  if (!probe) throw failedPrecondition(`${rpc}: checkpoint/restore is not configured on this node`);
  const cap = await probe.capability();
  if (!cap.usable) {
    throw failedPrecondition(
      `${rpc}: checkpoint/restore is unavailable on this node: ${cap.reason}`,
    );
  }
}
