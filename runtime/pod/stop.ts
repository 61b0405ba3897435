/**
 * StopPodSandbox: kill every container of the pod, stop the pause container, detach the pod
 * from the network (CNI DEL). The pod becomes NOTREADY; its namespaces, files and records
 * stay until RemovePodSandbox. Idempotent.
 *
 * @module
 */
import type { RuntimeCore } from "../core.ts";
import { podTransition } from "../state.ts";
import type { Sandbox } from "../records.ts";
import { stopLocked } from "../container/stop.ts";
import { stopPause } from "./pause.ts";
import { podNetworkRequest } from "./run.ts";

/** Stops pod `sandboxId`. Unknown ids are NOT_FOUND, as in containerd. */
export async function stopPodSandbox(core: RuntimeCore, sandboxId: string): Promise<void> {
  const s = core.sandbox(sandboxId);
  await core.locks.run(s.doc.id, () => stopSandboxLocked(core, s));
}

/** Stops `s`; the caller holds its lock. */
export async function stopSandboxLocked(core: RuntimeCore, s: Sandbox): Promise<void> {
  const log = core.log.with({ podId: s.doc.id });
  await core.deps.shims.dropSpare(s.doc.id);
  // The kubelet has already stopped containers gracefully; what is left is killed.
  await Promise.all(
    core.containersOf(s.doc.id).map((c) => core.locks.run(c.doc.id, () => stopLocked(core, c, 0))),
  );
  await stopPause(core, s, log);
  if (s.doc.network.attached) {
    await core.deps.cni.tearDown(podNetworkRequest(core, s));
    s.doc.network.attached = false;
    core.saveSandbox(s);
  }
  if (s.doc.state !== "notready") {
    podTransition(core, s, "stopped");
    log.info("pod sandbox stopped");
  }
}
