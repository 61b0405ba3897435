/**
 * Listing at scale: ListPodSandbox, ListContainers, ListContainerStats and
 * ListPodSandboxStats with 100 running containers in 10 pods, the calls the kubelet makes
 * every few seconds (PLEG relists) and every stats housekeeping period.
 *
 * Stats calls to one runtime are spaced more than a second apart: sauropod caches cgroup
 * reads for a second, and the kubelet asks for stats every 10 s, so back-to-back calls would
 * measure a cache the kubelet never hits.
 *
 * @module
 */
import { unavailable } from "../../errors/mod.ts";
import { Pods, startFleet } from "./_pods.ts";
import type { Workload } from "./types.ts";

const PODS = 10;
const PER_POD = 10;
const STATS_SPACING_MS = 1100;

/** List and stats latency with 100 containers. */
export const lists: Workload = {
  name: "lists",
  title: `List* and stats calls with ${PODS * PER_POD} containers in ${PODS} pods`,
  quick: false,
  async run(ctx) {
    const f = {
      pods: ctx.figure({
        id: "lists.list_pod_sandbox",
        label: `ListPodSandbox (${PODS} pods)`,
        unit: "ms",
        kind: "distribution",
      }),
      containers: ctx.figure({
        id: "lists.list_containers",
        label: `ListContainers (${PODS * PER_POD})`,
        unit: "ms",
        kind: "distribution",
      }),
      stats: ctx.figure({
        id: "lists.list_container_stats",
        label: `ListContainerStats (${PODS * PER_POD})`,
        unit: "ms",
        kind: "distribution",
        goal: 1.0,
      }),
      podStats: ctx.figure({
        id: "lists.list_pod_sandbox_stats",
        label: `ListPodSandboxStats (${PODS} pods)`,
        unit: "ms",
        kind: "distribution",
      }),
    };
    const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
    const lastStats = new Map<string, number>();
    const expect = (what: string, got: number, want: number) => {
      if (got !== want) throw unavailable(`${what} returned ${got} items, expected ${want}`);
    };
    const spaced = async (name: string) => {
      const wait = (lastStats.get(name) ?? 0) + STATS_SPACING_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    };
    try {
      await ctx.each(async (rt) => {
        await startFleet(pods.get(rt.name)!, "list", PODS, { containers: PER_POD, parallel: 2 });
      });
      ctx.note(
        `stats calls spaced ${STATS_SPACING_MS} ms apart per runtime (sauropod caches 1 s)`,
      );
      // Each round lists both ways and reads one kind of stats, alternating the kind, so
      // the other runtime's turn fills most of the spacing.
      const warmup = 2;
      await ctx.alternate(warmup + 2 * ctx.pick(20, 3), async (rt, i) => {
        const cri = rt.cri.runtime;
        const keep = i >= warmup;
        let t = performance.now();
        expect("ListPodSandbox", (await cri.listPodSandbox({})).items.length, PODS);
        if (keep) f.pods.add(rt.name, performance.now() - t);
        t = performance.now();
        expect("ListContainers", (await cri.listContainers({})).containers.length, PODS * PER_POD);
        if (keep) f.containers.add(rt.name, performance.now() - t);
        await spaced(rt.name);
        t = performance.now();
        if (i % 2 === 0) {
          const n = (await cri.listContainerStats({})).stats.length;
          expect("ListContainerStats", n, PODS * PER_POD);
          if (keep) f.stats.add(rt.name, performance.now() - t);
        } else {
          expect("ListPodSandboxStats", (await cri.listPodSandboxStats({})).stats.length, PODS);
          if (keep) f.podStats.add(rt.name, performance.now() - t);
        }
        lastStats.set(rt.name, performance.now());
      });
    } finally {
      for (const p of pods.values()) await p.removeAll().catch(() => {});
    }
  },
};
