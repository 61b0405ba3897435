/**
 * A hook for `bench/`: N container cgroups under a throwaway pod cgroup, and a function
 * that reads all their stats the way ListContainerStats does. Needs root; creates
 * `/sauropod-bench-<random>` in every hierarchy and removes exactly that in `cleanup()`.
 *
 * @module
 */
import { StatsCollector } from "./collector.ts";
import { type CgroupLayout, detectLayout } from "./layout.ts";
import { createPodCgroup, removePodCgroup } from "./pod_cgroup.ts";
import { type CgroupLocation, locateCgroup } from "./reader.ts";
import type { ContainerStatsSample, StatsResource } from "./types.ts";

/** A prepared benchmark. */
export interface StatsBench {
  /** How many containers `run` reads. */
  readonly containers: number;
  /** Reads every container's stats with a cold cache (a new collector) and returns them. */
  run(): Promise<ContainerStatsSample[]>;
  /** Reads them through one long-lived collector (rates on, 1 s cache as in the agent). */
  runWarm(): Promise<ContainerStatsSample[]>;
  /** Removes the cgroups it created. */
  cleanup(): Promise<void>;
}

/** Creates `n` empty container cgroups and returns the reader over them. */
export async function setupStatsBench(
  n: number,
  opts: { layout?: CgroupLayout; resources?: readonly StatsResource[] } = {},
): Promise<StatsBench> {
  const layout = opts.layout ?? await detectLayout();
  const pod = `/sauropod-bench-${crypto.randomUUID().slice(0, 8)}`;
  const owned = createPodCgroup(layout, pod);
  const leaves = owned.created.filter((d) => d.endsWith(pod));
  const made: string[] = [];
  const targets: { id: string; cgroup: CgroupLocation }[] = [];
  const cleanup = async () => {
    for (const d of made.splice(0).reverse()) {
      try {
        Deno.removeSync(d);
      } catch {
        // Already gone.
      }
    }
    removePodCgroup(owned);
    await Promise.resolve();
  };
  try {
    for (let i = 0; i < n; i++) {
      for (const leaf of leaves) {
        const dir = `${leaf}/c${i}`;
        Deno.mkdirSync(dir);
        made.push(dir);
      }
      targets.push({ id: `c${i}`, cgroup: locateCgroup(layout, `${pod}/c${i}`) });
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  const resources = opts.resources;
  const warm = new StatsCollector(resources ? { resources } : {});
  return {
    containers: n,
    run: () =>
      new StatsCollector({ cacheTtlMs: 0, ...(resources ? { resources } : {}) }).containers(
        targets,
      ),
    runWarm: () => warm.containers(targets),
    cleanup,
  };
}
