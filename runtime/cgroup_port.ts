/**
 * The runtime's view of the cgroup driver ({@link CgroupPort}), adapted from `cgroups/`.
 *
 * @module
 */
import {
  type CgroupDriver,
  type CgroupLayout,
  cgroupPathOfRuntimePath,
  createPodCgroup,
  DEFAULT_PARENT,
  memoryUsage,
  type OwnedCgroup,
  removePodCgroup,
  writeCgroupLimits,
} from "../cgroups/mod.ts";
import type { CgroupPort } from "./ports.ts";
import { invalidArgument, messageOf } from "../errors/mod.ts";

/** The port over `driver` on `layout`. */
export function cgroupPort(layout: CgroupLayout, driver: CgroupDriver): CgroupPort {
  return {
    driver: driver.name,
    validateParent(parent, field) {
      try {
        driver.podCgroupPath(parent);
      } catch (err) {
        throw invalidArgument(`${field}: ${messageOf(err)}`, { cause: err });
      }
    },
    cgroupsPath: (parent, id) => driver.runtimeCgroupsPath(parent, id),
    ensureParent(parent): OwnedCgroup | undefined {
      // Slices belong to systemd (and the kubelet); only cgroupfs pods get a cgroup made here.
      if (driver.name !== "cgroupfs") return undefined;
      const owned = createPodCgroup(layout, driver.podCgroupPath(parent));
      return owned.created.length ? owned : undefined;
    },
    memoryUsage(runtimeCgroupsPath) {
      return memoryUsage(layout, cgroupPathOfRuntimePath(runtimeCgroupsPath));
    },
    writeContainerLimits(runtimeCgroupsPath, limits, field) {
      writeCgroupLimits(layout, cgroupPathOfRuntimePath(runtimeCgroupsPath), limits, field);
    },
    writePodLimits(parent, limits, field) {
      writeCgroupLimits(layout, driver.podCgroupPath(parent), limits, field);
    },
    removeParent(owned) {
      removePodCgroup(owned);
      // The default parent of pods the kubelet gave none (`/sauropod`) is shared by them:
      // whichever pod goes last takes it away.
      if (owned.path.startsWith(`${DEFAULT_PARENT.cgroupfs}/`)) {
        for (const dir of hierarchyDirs(layout)) {
          try {
            Deno.removeSync(`${dir}${DEFAULT_PARENT.cgroupfs}`);
          } catch {
            // still used by other pods, or already gone
          }
        }
      }
    },
  };
}

function hierarchyDirs(layout: CgroupLayout): string[] {
  const dirs = new Set<string>();
  for (const m of layout.v1.values()) dirs.add(m.dir);
  if (layout.unified) dirs.add(layout.unified.dir);
  return [...dirs];
}
