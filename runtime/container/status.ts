/**
 * ContainerStatus: the CRI status of a container (`views.ts`), answered from memory;
 * `verbose` adds containerd's "info" document, with the runtime spec read from the bundle.
 *
 * @module
 */
import type { ContainerStatus } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import { containerStatusOf } from "../views.ts";

/** ContainerStatus of container `id` (or a unique prefix), with the info map when `verbose`. */
export async function containerStatus(
  core: RuntimeCore,
  id: string,
  verbose: boolean,
): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
  const c = core.container(id);
  const info: Record<string, string> = {};
  if (verbose) {
    const spec = await Deno.readTextFile(`${c.doc.bundle}/config.json`).catch(() => "null");
    info.info = JSON.stringify({
      sandboxID: c.doc.sandboxId,
      pid: c.doc.pid,
      bundle: c.doc.bundle,
      rootfs: c.doc.rootfs,
      cgroupsPath: c.doc.cgroupsPath,
      runtimeSpec: JSON.parse(spec),
    });
  }
  return { status: containerStatusOf(c), info };
}
