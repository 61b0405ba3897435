/**
 * UpdateContainerResources (in-place resize, KEP-1287): new resources applied live through
 * `runc update`, and recorded for ContainerStatus.resources.
 *
 * The kubelet sends the whole `LinuxContainerResources` each time, with a zero huge page
 * limit for every page size of the node; the mapping (`oci/resources.ts`) drops what cannot
 * apply here and refuses, naming the field, what would be lost. A memory limit below what the
 * container uses now is refused before anything changes (cgroup v2 would OOM-kill to reach
 * it); if `runc update` still fails, the previous resources are put back, so a failed resize
 * leaves the old limits.
 *
 * @module
 */
import type { LinuxContainerResources } from "../../api/gen/api.ts";
import { failedPrecondition, messageOf, unavailable } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";
import { encodeResources } from "../records.ts";
import {
  linuxResourcesFromCri,
  mergeCriResources,
  type ResourceOptions,
} from "../../oci/resources.ts";

/** How CRI resources map onto this node's cgroups (the node facts the agent probed). */
export function resourceOptions(core: RuntimeCore, field: string): ResourceOptions {
  const node = core.deps.node;
  return {
    swapAccounting: node.swapAccounting ?? false,
    hugetlb: node.hugetlb ?? false,
    ...(node.hugepageSizes ? { hugepageSizes: node.hugepageSizes } : {}),
    ...(node.cgroupVersion ? { cgroupVersion: node.cgroupVersion } : {}),
    field,
  };
}

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
    const options = resourceOptions(core, "linux");
    const resources = linuxResourcesFromCri(linux, options) ?? {};
    const limit = resources.memory?.limit;
    if (limit !== undefined && limit > 0) {
      const used = core.deps.cgroups.memoryUsage(c.doc.cgroupsPath);
      if (used !== undefined && limit < used) {
        throw failedPrecondition(
          `linux.memory_limit_in_bytes: ${limit} is below what container "${c.doc.id}" uses ` +
            `now (${used} bytes); the previous limits are kept`,
        );
      }
    }
    const previous = c.resources ?? c.config.linux?.resources;
    // `runc update` (1.1) takes no huge page limits: those are written here after it.
    const { hugepageLimits, ...rest } = resources;
    if (Object.keys(resources).length > 0) {
      try {
        if (Object.keys(rest).length > 0) await shim.update(rest);
        if (hugepageLimits) {
          core.deps.cgroups.writeContainerLimits(c.doc.cgroupsPath, { hugepageLimits }, "linux");
        }
      } catch (err) {
        // runc writes file by file: put back what it may have changed before it failed.
        const { hugepageLimits: _, ...back } = previous
          ? linuxResourcesFromCri(previous, options) ?? {}
          : {};
        if (Object.keys(back).length > 0) {
          await shim.update(back).catch((e) =>
            core.log.warn("cannot restore resources after a failed update", {
              containerId: c.doc.id,
              error: messageOf(e),
            })
          );
        }
        throw failedPrecondition(
          `linux: cannot apply the new resources to container "${c.doc.id}": ${
            messageOf(err)
          }; the previous limits are kept`,
          { cause: err },
        );
      }
    }
    const merged = mergeCriResources(previous, linux);
    c.resources = merged;
    c.doc.resources = encodeResources(merged);
    core.saveContainer(c);
  });
}
