/**
 * StartContainer: `runc start` through the container's shim; from then on the exit is
 * watched in the background.
 *
 * @module
 */
import { failedPrecondition, unavailable, wrap } from "../../errors/mod.ts";
import { ContainerEventType, type RuntimeCore } from "../core.ts";
import { nowNs } from "../../lib/clock.ts";
import { watchExit } from "./exit.ts";
import { faultPoint } from "../faults.ts";

/** Starts a created container. */
export async function startContainer(core: RuntimeCore, containerId: string): Promise<void> {
  const c = core.container(containerId);
  await core.locks.run(c.doc.id, async () => {
    if (c.doc.phase !== "ready") {
      throw failedPrecondition(
        `container "${c.doc.id}" is being ${c.doc.phase === "creating" ? "created" : "removed"}`,
      );
    }
    if (c.doc.state !== "created") {
      throw failedPrecondition(
        `container "${c.doc.id}" is ${c.doc.state}, not created: it cannot be started`,
      );
    }
    const sandbox = core.sandbox(c.doc.sandboxId);
    core.requireReady(sandbox, `start container "${c.doc.id}"`);
    const shim = c.shim;
    if (!shim) throw unavailable(`container "${c.doc.id}" has no shim`);
    let startedAt: bigint;
    try {
      // The shim's clock, taken before runc start: the exit time comes from it too.
      ({ startedAtNs: startedAt } = await shim.start());
    } catch (err) {
      // As containerd: a container that failed to start is exited with reason StartError.
      c.doc.state = "exited";
      c.doc.exitCode = 128;
      c.doc.reason = "StartError";
      c.doc.message = err instanceof Error ? err.message : String(err);
      c.doc.finishedAtNs = nowNs().toString();
      core.saveContainer(c);
      core.emit(c.doc.id, c.doc.sandboxId, ContainerEventType.CONTAINER_STOPPED_EVENT);
      throw wrap(err, `cannot start container "${c.doc.id}"`);
    }
    await faultPoint(core, "container-start:after-start");
    c.doc.state = "running";
    c.doc.startedAtNs = startedAt.toString();
    core.saveContainer(c);
    void watchExit(core, c);
    core.log.info("container started", { containerId: c.doc.id, pid: c.doc.pid });
    core.emit(c.doc.id, c.doc.sandboxId, ContainerEventType.CONTAINER_STARTED_EVENT);
  });
}
