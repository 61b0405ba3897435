/**
 * What happens when a container's process ends: the exit record from its shim becomes the
 * container's CRI status (exit code, finished-at, reason `Completed`, `Error` or
 * `OOMKilled`), the record is saved and a STOPPED event goes out.
 *
 * A shim that dies is handled like containerd's dead-shim cleanup: the container is killed
 * and deleted through the runtime binary directly, and its status says so.
 *
 * @module
 */
import type { RuntimeCore } from "../core.ts";
import { containerTransition } from "../state.ts";
import type { Container } from "../records.ts";
import type { ExitRecord } from "../../shim/client/mod.ts";
import { recordedRuntime } from "../shim_runtime.ts";
import { nowNs } from "../../lib/clock.ts";

/** The CRI reason for an exit. */
export function exitReason(exit: { exitCode: number; oomKilled: boolean }): string {
  if (exit.oomKilled) return "OOMKilled";
  return exit.exitCode === 0 ? "Completed" : "Error";
}

/** Records `exit` on `c` (once) and announces it. */
export function recordExit(core: RuntimeCore, c: Container, exit: ExitRecord): void {
  if (c.doc.state === "exited") return;
  if (exit.oomKilled) core.counters.oomKills++;
  containerTransition(core, c, "exited", {
    exitCode: exit.exitCode,
    finishedAtNs: (exit.exitedAtNs > 0n ? exit.exitedAtNs : nowNs()).toString(),
    reason: exitReason(exit),
    message: exit.reason ?? "",
    pid: 0,
  });
  core.log.info("container exited", {
    containerId: c.doc.id,
    exitCode: exit.exitCode,
    reason: c.doc.reason,
    message: c.doc.message || undefined,
  });
}

/**
 * Watches `c`'s shim for the exit, in the background. The returned promise settles once the
 * exit is recorded (StopContainer awaits it).
 */
export function watchExit(core: RuntimeCore, c: Container): Promise<void> {
  const shim = c.shim;
  if (!shim) return Promise.resolve();
  c.exited ??= (async () => {
    let exit: ExitRecord;
    try {
      exit = await shim.wait();
    } catch (err) {
      exit = {
        exitCode: 255,
        exitedAtNs: nowNs(),
        oomKilled: false,
        reason: `lost the container's shim: ${err instanceof Error ? err.message : err}`,
      };
    }
    if (exit.reason) {
      // The shim died: nobody supervises the container any more. Kill it as containerd does
      // after a dead shim, so its state is certain and its resources are released.
      await core.deps.shims.cleanup(c.doc.id, recordedRuntime(core, c.doc.handler)).catch((err) =>
        core.log.warn("cannot clean up after a dead shim", { containerId: c.doc.id, err })
      );
      exit = { ...exit, exitCode: 137 };
      c.shim = undefined;
      core.counters.shimsLost++;
    }
    recordExit(core, c, exit);
  })();
  return c.exited;
}
