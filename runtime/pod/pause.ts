/**
 * The pause container: only for pods that share one PID namespace. Its init (catatonit or
 * pause from the configured sandbox image) is PID 1 of the pod, reaps the pod's orphans,
 * and holds the namespace that the pod's containers join through /proc/<pid>/ns/pid.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import { wrap } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";
import type { Sandbox } from "../records.ts";
import { recordedRuntime } from "../shim_runtime.ts";
import { atomicWrite } from "../../lib/fs.ts";
import { sandboxSpec } from "../oci_spec.ts";
import { mkdirPrivate, PRIVATE_FILE } from "../modes.ts";

/** Pulls (if needed) the sandbox image and starts the pause container of `s`. */
export async function startPause(
  core: RuntimeCore,
  s: Sandbox,
  log: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const ref = core.config.sandbox.image;
  const image = core.deps.images.resolve(ref) ??
    await core.deps.images.pull(ref, signal ? { signal } : {}).catch((err) => {
      throw wrap(err, `cannot pull the sandbox image "${ref}"`);
    });
  const id = s.doc.id;
  const bundle = `${s.doc.files.dir}/bundle`;
  const rootfs = `${bundle}/rootfs`;
  s.doc.pause = { containerId: id, imageId: image.id, bundle, pid: 0 };
  core.saveSandbox(s);

  await using undo = new AsyncDisposableStack();
  await mkdirPrivate(rootfs);
  undo.defer(() => Deno.remove(bundle, { recursive: true }).catch(() => {}));
  await core.deps.images.mountRootfs(id, image, rootfs, { readonly: true });
  undo.defer(() => core.deps.images.unmountRootfs(id, rootfs));

  const spec = await sandboxSpec(core, s, image, rootfs);
  await atomicWrite(`${bundle}/config.json`, JSON.stringify(spec), { mode: PRIVATE_FILE });
  const shim = await core.deps.shims.create({
    id,
    bundle,
    runtime: recordedRuntime(core, s.doc.handler),
    tty: false,
    stdin: false,
    stdinOnce: false,
  });
  undo.defer(() => shim.delete().catch(() => {}));
  await shim.start();
  s.pauseShim = shim;
  s.doc.pause.pid = shim.initPid;
  undo.move();
  log.debug("pause container started", { pid: shim.initPid });
}

/** Kills the pause container (SIGKILL) and waits for it; idempotent. */
export async function stopPause(core: RuntimeCore, s: Sandbox, log: Logger): Promise<void> {
  const pause = s.doc.pause;
  if (!pause) return;
  const shim = s.pauseShim ??
    await core.deps.shims.reconnect(pause.containerId).catch(() => undefined);
  if (!shim) return;
  s.pauseShim = shim;
  try {
    const st = await shim.state();
    if (st.status === "stopped") return;
    await shim.kill(9, true);
    await shim.wait();
  } catch (err) {
    log.warn("cannot stop pause container", { err });
  }
}

/**
 * Deletes the pause container (runc delete, killing it if needed), unmounts its rootfs and
 * removes its bundle. Idempotent: works on a half-made or already removed pause container.
 */
export async function removePause(core: RuntimeCore, s: Sandbox, log: Logger): Promise<void> {
  const pause = s.doc.pause;
  if (!pause) return;
  const id = pause.containerId;
  const shim = s.pauseShim ?? await core.deps.shims.reconnect(id).catch(() => undefined);
  if (shim) {
    await shim.delete().catch((err) => log.warn("cannot delete pause container", { err }));
  } else {
    await core.deps.shims.cleanup(id, recordedRuntime(core, s.doc.handler)).catch((err) =>
      log.warn("cannot clean up pause container", { err })
    );
  }
  s.pauseShim = undefined;
  await core.deps.images.unmountRootfs(id, `${pause.bundle}/rootfs`);
  await Deno.remove(pause.bundle, { recursive: true }).catch(() => {});
  s.doc.pause = undefined;
}
