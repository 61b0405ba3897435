/**
 * A pod's /dev/shm: one tmpfs per pod, shared by its containers (they bind-mount it), so
 * that POSIX shared memory works across the containers of a pod as it does with containerd.
 *
 * @module
 */
import { mountTmpfs } from "../../ffi/tmpfs.ts";
import { unmount } from "../../ffi/mount.ts";
import { mkdirPrivate } from "../modes.ts";

/** containerd's default /dev/shm size. */
export const SHM_SIZE = "64m";

/**
 * Creates `path` and mounts the pod's tmpfs on it. The tmpfs is 1777 (any uid in the pod
 * uses it); what keeps other users of the node out is its 0700 parent (see modes.ts).
 */
export async function mountShm(path: string): Promise<void> {
  await mkdirPrivate(path);
  mountTmpfs("shm", path, `size=${SHM_SIZE},mode=1777`);
}

/** Unmounts and removes `path`; idempotent. */
export async function unmountShm(path: string): Promise<void> {
  unmount(path, { detach: true });
  await Deno.remove(path).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}
