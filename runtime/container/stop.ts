/**
 * StopContainer: the image's stop signal (or SIGTERM), then SIGKILL once the timeout
 * passes; a timeout of 0 kills at once. Stopping what is not running succeeds.
 *
 * @module
 */
import type { RuntimeCore } from "../core.ts";
import type { Container } from "../records.ts";
import { watchExit } from "./exit.ts";
import { signalNumber } from "../../lib/signals.ts";

/** Stops container `containerId` (idempotent). */
export async function stopContainer(
  core: RuntimeCore,
  containerId: string,
  timeoutSeconds: number,
): Promise<void> {
  const c = core.container(containerId);
  await core.locks.run(c.doc.id, () => stopLocked(core, c, timeoutSeconds));
}

/** Stops `c`; the caller holds its lock. */
export async function stopLocked(
  core: RuntimeCore,
  c: Container,
  timeoutSeconds: number,
): Promise<void> {
  if (c.doc.state !== "running" || !c.shim) return;
  const shim = c.shim;
  const exited = watchExit(core, c);
  const log = core.log.with({ containerId: c.doc.id });
  if (timeoutSeconds > 0) {
    // CreateContainer recorded a signal name it could parse; 15 only for a record that
    // names none (written before the stop signal was checked), and said so.
    const sig = signalNumber(c.doc.stopSignal) ?? 15;
    if (signalNumber(c.doc.stopSignal) === undefined) {
      log.warn("the recorded stop signal is not a signal; sending SIGTERM", {
        signal: c.doc.stopSignal,
      });
    }
    log.debug("stopping container", { signal: c.doc.stopSignal, timeoutSeconds });
    await shim.kill(sig, false).catch((err) => log.debug("stop signal not delivered", { err }));
    const done = await Promise.race([
      exited.then(() => true),
      new Promise<false>((r) => {
        const t = setTimeout(() => r(false), timeoutSeconds * 1000);
        exited.finally(() => clearTimeout(t));
      }),
    ]);
    if (done) return;
    log.info("container did not stop in time, killing it", { timeoutSeconds });
  }
  await shim.kill(9, true).catch((err) => log.debug("SIGKILL not delivered", { err }));
  await exited;
}
