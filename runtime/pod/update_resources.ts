/**
 * UpdatePodSandboxResources (pod-level resources, KEP-2837 / in-place pod resize KEP-5419):
 * the pod cgroup's limits become overhead + resources, written into the pod cgroup (the
 * `cgroup_parent`), all or nothing, and recorded for PodSandboxStatus's verbose info (the
 * CRI's PodSandboxStatus has no resources field). containerd and CRI-O only forward the call
 * to NRI; the kubelet also writes the pod cgroup itself, with the same values.
 *
 * Sums: memory, swap and CPU shares add up; CPU quotas add up over the resources' period
 * (the overhead's quota scaled to it); huge pages add up per size. A zero (unset) limit in
 * `resources` leaves that limit of the pod cgroup alone: the overhead alone bounds nothing.
 * cpuset and `unified` come from `resources`.
 *
 * @module
 */
import type { LinuxContainerResources } from "../../api/gen/api.ts";
import { failedPrecondition } from "../../errors/mod.ts";
import type { CgroupLimits } from "../../cgroups/mod.ts";
import { type LinuxResources, linuxResourcesFromCri } from "../../oci/mod.ts";
import type { RuntimeCore } from "../core.ts";
import { encodeResources } from "../records.ts";
import { resourceOptions } from "../container/update.ts";

const DEFAULT_PERIOD = 100_000;

/** overhead + resources, as limits for the pod cgroup. */
export function podCgroupLimits(
  overhead: LinuxResources | undefined,
  resources: LinuxResources | undefined,
): CgroupLimits {
  const o = overhead ?? {};
  const r = resources ?? {};
  const out: CgroupLimits = {};
  const add = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || a <= 0 ? a : a + (b !== undefined && b > 0 ? b : 0);
  const memory: NonNullable<CgroupLimits["memory"]> = {};
  const limit = add(r.memory?.limit, o.memory?.limit);
  if (limit !== undefined) memory.limit = limit;
  const swap = add(r.memory?.swap, o.memory?.swap);
  if (swap !== undefined) memory.swap = swap;
  if (r.memory?.reservation !== undefined) memory.reservation = r.memory.reservation;
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: NonNullable<CgroupLimits["cpu"]> = {};
  const shares = add(r.cpu?.shares, o.cpu?.shares);
  if (shares !== undefined) cpu.shares = shares;
  if (r.cpu?.quota !== undefined) {
    const period = r.cpu.period ?? DEFAULT_PERIOD;
    const oq = o.cpu?.quota;
    const scaled = oq !== undefined && oq > 0
      ? Math.ceil((oq * period) / (o.cpu?.period ?? DEFAULT_PERIOD))
      : undefined;
    cpu.quota = add(r.cpu.quota, scaled)!;
    cpu.period = period;
  } else if (r.cpu?.period !== undefined) {
    cpu.period = r.cpu.period;
  }
  if (r.cpu?.cpus !== undefined) cpu.cpus = r.cpu.cpus;
  if (r.cpu?.mems !== undefined) cpu.mems = r.cpu.mems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  if (r.pids) out.pids = r.pids;

  if (r.hugepageLimits) {
    out.hugepageLimits = r.hugepageLimits.map((h) => ({
      pageSize: h.pageSize,
      limit: h.limit + (o.hugepageLimits?.find((x) => x.pageSize === h.pageSize)?.limit ?? 0),
    }));
  }
  if (r.unified) out.unified = r.unified;
  return out;
}

/**
 * Writes overhead + resources into the pod cgroup of `parent`; nothing when neither bounds
 * anything. Errors name fields under `field` (`overhead`, `resources`).
 */
export function writePodLevelResources(
  core: RuntimeCore,
  parent: string,
  linux: {
    overhead?: LinuxContainerResources | undefined;
    resources?: LinuxContainerResources | undefined;
  } | undefined,
  field: string,
): void {
  const prefix = field ? `${field}.` : "";
  const o = linuxResourcesFromCri(linux?.overhead, resourceOptions(core, `${prefix}overhead`));
  const r = linuxResourcesFromCri(linux?.resources, resourceOptions(core, `${prefix}resources`));
  const limits = podCgroupLimits(o, r);
  if (Object.keys(limits).length > 0) {
    core.deps.cgroups.writePodLimits(parent, limits, `${prefix}resources`);
  }
}

/** Applies pod-level resources to pod `id`'s cgroup and records them. */
export async function updatePodSandboxResources(
  core: RuntimeCore,
  id: string,
  overhead: LinuxContainerResources | undefined,
  resources: LinuxContainerResources | undefined,
): Promise<void> {
  const s = core.sandbox(id);
  await core.locks.run(s.doc.id, () => {
    if (s.doc.state !== "ready") {
      throw failedPrecondition(
        `pod sandbox "${s.doc.id}" is ${s.doc.state}: cannot update its resources`,
      );
    }
    writePodLevelResources(core, s.doc.cgroupParent, { overhead, resources }, "");
    s.doc.podResources = {
      ...(overhead ? { overhead: encodeResources(overhead) } : {}),
      ...(resources ? { resources: encodeResources(resources) } : {}),
    };
    core.saveSandbox(s);
    return Promise.resolve();
  });
}
