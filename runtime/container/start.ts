/**
 * StartContainer: `runc start` through the container's shim; from then on the exit is
 * watched in the background.
 *
 * @module
 */
import { unavailable, wrap } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";
import { containerTransition, requireContainer } from "../state.ts";
import { nowNs } from "../../lib/clock.ts";
import { watchExit } from "./exit.ts";
import { faultPoint } from "../faults.ts";

/** Starts a created container. */
export async function startContainer(core: RuntimeCore, containerId: string): Promise<void> {
  const c = core.container(containerId);
  await core.locks.run(c.doc.id, async () => {
    requireContainer(c, "started", "start it (only a created container can start)");
    const sandbox = core.sandbox(c.doc.sandboxId);
    core.requireReady(sandbox, `start container "${c.doc.id}"`);
    const shim = c.shim;
    if (!shim) throw unavailable(`container "${c.doc.id}" has no shim`);
    let startedAt: bigint;
    try {
      // The shim's clock, taken before runc start: the exit time comes from it too.
      const started = await shim.start();
      startedAt = started.startedAtNs;
      // A restored container's process exists only from now on (runc restore).
      if (started.pid) c.doc.pid = started.pid;
    } catch (err) {
      // As containerd: a container that failed to start is exited with reason StartError.
      containerTransition(core, c, "startFailed", {
        exitCode: 128,
        reason: "StartError",
        message: err instanceof Error ? err.message : String(err),
        finishedAtNs: nowNs().toString(),
      });
      throw wrap(err, `cannot start container "${c.doc.id}"`);
    }
    await faultPoint(core, "container-start:after-start");
    containerTransition(core, c, "started", { startedAtNs: startedAt.toString() });
    void watchExit(core, c);
    core.log.info("container started", { containerId: c.doc.id, pid: c.doc.pid });
  });
}
