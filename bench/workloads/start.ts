/**
 * Sequential pod + container start: RunPodSandbox, CreateContainer and StartContainer of a
 * one-container pod until it is RUNNING, one pod at a time, as the kubelet does for a pod
 * on an idle node. Host network, so the figure is the runtime's own cost; `start-net`
 * measures the same with CNI. Pods are removed between iterations (untimed).
 *
 * @module
 */
import { Pods } from "./_pods.ts";
import type { Workload, WorkloadContext } from "./types.ts";

/** The start workload for a network mode. */
function startWorkload(name: string, network: "host" | "pod"): Workload {
  const where = network === "host" ? "host network" : "pod network via CNI";
  return {
    name,
    title: `sequential pod + container start to RUNNING (${where})`,
    quick: true,
    async run(ctx: WorkloadContext) {
      const total = ctx.figure({
        id: `${name}.total`,
        label: "pod + container start",
        unit: "ms",
        kind: "distribution",
        goal: 0.8,
      });
      const run = ctx.figure({
        id: `${name}.run_pod_sandbox`,
        label: "  RunPodSandbox",
        unit: "ms",
        kind: "distribution",
      });
      const create = ctx.figure({
        id: `${name}.create_container`,
        label: "  CreateContainer",
        unit: "ms",
        kind: "distribution",
      });
      const start = ctx.figure({
        id: `${name}.start_container`,
        label: "  StartContainer",
        unit: "ms",
        kind: "distribution",
      });
      const warmup = ctx.pick(3, 1);
      const n = ctx.pick(30, 5);
      const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
      try {
        await ctx.alternate(warmup + n, async (rt, i) => {
          const p = pods.get(rt.name)!;
          const { pod, timings } = await p.start(name, { network });
          await p.remove(pod);
          if (i < warmup) return;
          total.add(rt.name, timings.total);
          run.add(rt.name, timings.runPodSandbox);
          create.add(rt.name, timings.createContainer);
          start.add(rt.name, timings.startContainer);
        });
      } finally {
        for (const p of pods.values()) await p.removeAll().catch(() => {});
      }
    },
  };
}

/** Sequential start, host network. */
export const start: Workload = startWorkload("start", "host");
/** Sequential start with the pod network (same conflist for both runtimes). */
export const startNet: Workload = startWorkload("start-net", "pod");
