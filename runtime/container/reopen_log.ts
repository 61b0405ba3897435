/**
 * ReopenContainerLog: the kubelet renamed the container's log file (rotation); its shim
 * opens a new one at the same path.
 *
 * @module
 */
import { failedPrecondition, unavailable } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";

/** Reopens the container's log file (after the kubelet renamed it). */
export async function reopenContainerLog(core: RuntimeCore, containerId: string): Promise<void> {
  const c = core.container(containerId);
  if (c.doc.state !== "running") {
    throw failedPrecondition(
      `container "${c.doc.id}" is ${c.doc.state}, not running: cannot reopen its log`,
    );
  }
  const shim = c.shim;
  if (!shim) throw unavailable(`container "${c.doc.id}" has no shim`);
  await shim.reopenLog();
}
