/**
 * RemoveContainer: stop it if it runs, delete it through its shim (`runc delete`), unmount
 * its rootfs, remove its bundle and record. Removing what does not exist succeeds, and a
 * half-removed container (a crash mid-way) is finished by recovery: the record is marked
 * `removing` before anything is torn down.
 *
 * @module
 */
import { isPrefix, type RuntimeCore } from "../core.ts";
import { notFound } from "../../errors/mod.ts";
import { containerTransition } from "../state.ts";
import type { Container } from "../records.ts";
import { stopLocked } from "./stop.ts";
import { shimRuntime } from "../shim_runtime.ts";
import { faultPoint } from "../faults.ts";

/**
 * Removes container `containerId` (idempotent: an unknown id succeeds, as the CRI asks). A
 * short id prefix that matches no container is NOT_FOUND: it names nothing, so "removed"
 * would be a lie — and a container still being created matches nothing (see core.ts).
 */
export async function removeContainer(core: RuntimeCore, containerId: string): Promise<void> {
  const c = core.findContainer(containerId);
  if (!c) {
    if (isPrefix(containerId)) throw notFound(`no container matches "${containerId}"`);
    return;
  }
  await core.locks.run(c.doc.id, () => removeLocked(core, c));
}

/** Removes `c`; the caller holds its lock. Safe to run again after a failure or crash. */
export async function removeLocked(core: RuntimeCore, c: Container): Promise<void> {
  if (!core.containers.has(c.doc.id)) return;
  const log = core.log.with({ containerId: c.doc.id });
  if (c.doc.phase !== "removing") containerTransition(core, c, "removing");
  await faultPoint(core, "container-remove:after-mark");
  await stopLocked(core, c, 0);
  if (c.shim) {
    await c.shim.delete();
    c.shim = undefined;
  } else {
    await core.deps.shims.cleanup(c.doc.id, shimRuntime(core));
  }
  await faultPoint(core, "container-remove:after-delete");
  await core.deps.images.unmountRootfs(c.doc.id, c.doc.rootfs);
  // Before the bundle goes: its removal must never walk into a mounted image.
  await core.deps.images.unmountVolumes(`${c.doc.bundle}/volumes`);
  await Deno.remove(c.doc.bundle, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
  containerTransition(core, c, "removed");
  log.info("container removed");
}
