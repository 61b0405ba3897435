/**
 * Many pods at once: N one-container pods started concurrently on one connection (as the
 * kubelet's pod workers do after a node drain lands pods on it), wall time until every
 * container is RUNNING. Pods are removed between repetitions (untimed).
 *
 * @module
 */
import { Pods } from "./_pods.ts";
import type { Workload, WorkloadContext } from "./types.ts";
import type { BenchRuntime } from "../runtimes.ts";

async function startMany(ctx: WorkloadContext, rt: BenchRuntime, n: number): Promise<number> {
  const pods = new Pods(ctx, rt);
  try {
    const t0 = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: n }, () => pods.start(`burst${n}`)),
    );
    const ms = performance.now() - t0;
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return ms;
  } finally {
    await pods.removeAll();
  }
}

/** Concurrent pod start, 10 and 50 pods. */
export const concurrent: Workload = {
  name: "concurrent",
  title: "pods started concurrently (wall time until all RUNNING)",
  quick: true,
  async run(ctx) {
    // A small burst first, untimed: the first concurrent start pays for cold paths.
    await ctx.alternate(1, async (rt) => void await startMany(ctx, rt, 5));
    const sizes = ctx.quick ? [{ n: 10, reps: 1 }] : [{ n: 10, reps: 3 }, { n: 50, reps: 2 }];
    for (const { n, reps } of sizes) {
      const wall = ctx.figure({
        id: `concurrent.pods_${n}`,
        label: `${n} pods concurrently`,
        unit: "s",
        kind: "distribution",
      });
      await ctx.alternate(reps, async (rt) => {
        wall.add(rt.name, (await startMany(ctx, rt, n)) / 1000);
      });
    }
  },
};
