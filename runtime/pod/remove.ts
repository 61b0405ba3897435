/**
 * RemovePodSandbox: forcibly stop and remove every container of the pod and everything the
 * pod made — pause container, CNI attachment, pinned namespaces, /dev/shm, cgroup, files,
 * record. Unknown ids succeed (the CRI makes removal idempotent); the record is marked
 * `removing` first, so recovery finishes a removal a crash interrupted.
 *
 * @module
 */
import { isPrefix, type RuntimeCore } from "../core.ts";
import { notFound } from "../../errors/mod.ts";
import { podTransition } from "../state.ts";
import type { Sandbox } from "../records.ts";
import { faultPoint } from "../faults.ts";
import { removeLocked } from "../container/remove.ts";
import { removePause } from "./pause.ts";
import { stopSandboxLocked } from "./stop.ts";
import { unpinNamespaces } from "../../network/mod.ts";
import { unmountShm } from "./shm.ts";

/**
 * Removes pod `sandboxId` (idempotent: an unknown id succeeds). A short id prefix that matches
 * no pod is NOT_FOUND, as in {@link removeContainer}; a pod still being created matches
 * nothing.
 */
export async function removePodSandbox(core: RuntimeCore, sandboxId: string): Promise<void> {
  const s = core.findSandbox(sandboxId);
  if (!s) {
    if (isPrefix(sandboxId)) throw notFound(`no pod sandbox matches "${sandboxId}"`);
    return;
  }
  await core.locks.run(s.doc.id, () => removeSandboxLocked(core, s));
}

/** Removes `s`; the caller holds its lock. Safe to run again after a failure or crash. */
export async function removeSandboxLocked(core: RuntimeCore, s: Sandbox): Promise<void> {
  if (!core.sandboxes.has(s.doc.id)) return;
  const log = core.log.with({ podId: s.doc.id });
  if (s.doc.phase !== "removing") podTransition(core, s, "removing");
  await faultPoint(core, "sandbox-remove:after-mark");
  await stopSandboxLocked(core, s);
  for (const c of core.containersOf(s.doc.id)) {
    await core.locks.run(c.doc.id, () => removeLocked(core, c));
  }
  await faultPoint(core, "sandbox-remove:after-containers");
  await removePause(core, s, log);
  await unpinNamespaces(s.doc.ns.dir);
  if (s.doc.shm) await unmountShm(s.doc.shm.path);
  if (s.doc.ownedCgroup) {
    core.deps.cgroups.removeParent(s.doc.ownedCgroup);
    s.doc.ownedCgroup = undefined;
  }
  await Deno.remove(s.doc.files.dir, { recursive: true }).catch(ignoreNotFound);
  await Deno.remove(`${core.config.state}/sandboxes/${s.doc.id}`, { recursive: true }).catch(
    ignoreNotFound,
  );
  podTransition(core, s, "removed");
  log.info("pod sandbox removed");
}

function ignoreNotFound(err: unknown): void {
  if (!(err instanceof Deno.errors.NotFound)) throw err;
}
