/**
 * UpdateContainerResources: new resources applied live through `runc update`, and recorded.
 *
 * @module
 */
import type { LinuxContainerResources } from "../../api/gen/api.ts";
import { failedPrecondition, unavailable } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";
import { encodeResources } from "../records.ts";
import { linuxResourcesFromCri } from "../../oci/resources.ts";

/** Applies new resources to a created or running container and records them. */
export async function updateContainerResources(
  core: RuntimeCore,
  containerId: string,
  linux: LinuxContainerResources | undefined,
): Promise<void> {
  const c = core.container(containerId);
  await core.locks.run(c.doc.id, async () => {
    if (c.doc.state !== "created" && c.doc.state !== "running") {
      throw failedPrecondition(
        `container "${c.doc.id}" is ${c.doc.state}: cannot update its resources`,
      );
    }
    if (!linux) return;
    const shim = c.shim;
    if (!shim) throw unavailable(`container "${c.doc.id}" has no shim`);
    const resources = linuxResourcesFromCri(linux, { field: "linux" });
    if (resources) await shim.update(resources);
    c.resources = linux;
    c.doc.resources = encodeResources(linux);
    core.saveContainer(c);
  });
}
