/**
 * Stop + remove of a running one-container pod, as the kubelet tears a pod down:
 * StopContainer (the process exits on SIGTERM), RemoveContainer, StopPodSandbox,
 * RemovePodSandbox. Pods are started untimed before each sample.
 *
 * @module
 */
import { Pods } from "./_pods.ts";
import type { Workload } from "./types.ts";

/** Pod teardown latency. */
export const stopRemove: Workload = {
  name: "stop-remove",
  title: "stop + remove of a running pod",
  quick: true,
  async run(ctx) {
    const total = ctx.figure({
      id: "stop-remove.total",
      label: "stop + remove",
      unit: "ms",
      kind: "distribution",
    });
    const phases = {
      stopContainer: ctx.figure({
        id: "stop-remove.stop_container",
        label: "  StopContainer",
        unit: "ms",
        kind: "distribution",
      }),
      removeContainer: ctx.figure({
        id: "stop-remove.remove_container",
        label: "  RemoveContainer",
        unit: "ms",
        kind: "distribution",
      }),
      stopPodSandbox: ctx.figure({
        id: "stop-remove.stop_pod_sandbox",
        label: "  StopPodSandbox",
        unit: "ms",
        kind: "distribution",
      }),
      removePodSandbox: ctx.figure({
        id: "stop-remove.remove_pod_sandbox",
        label: "  RemovePodSandbox",
        unit: "ms",
        kind: "distribution",
      }),
    };
    const warmup = ctx.pick(2, 1);
    const n = ctx.pick(30, 5);
    const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
    try {
      await ctx.alternate(warmup + n, async (rt, i) => {
        const p = pods.get(rt.name)!;
        const { pod } = await p.start("stop");
        const t = await p.remove(pod);
        if (i < warmup) return;
        total.add(rt.name, t.total);
        for (const [k, f] of Object.entries(phases)) f.add(rt.name, t[k as keyof typeof phases]);
      });
    } finally {
      for (const p of pods.values()) await p.removeAll().catch(() => {});
    }
  },
};
