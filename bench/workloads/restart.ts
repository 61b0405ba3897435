/**
 * Agent restart with 50 running pods, as `systemctl restart` does it: SIGTERM (shims and
 * containers keep running), start again, and poll ListPodSandbox and ListContainers until
 * every pod is READY and every container RUNNING again. Also checks that no shim died.
 *
 * @module
 */
import { ContainerState, PodSandboxState } from "../../api/gen/api.ts";
import { unavailable } from "../../errors/mod.ts";
import { Pods, startFleet } from "./_pods.ts";
import type { Workload } from "./types.ts";

/** Restart until all pods are RUNNING again. */
export const restart: Workload = {
  name: "restart",
  title: "agent restart until 50 pods (10 with --quick) are reported RUNNING again",
  quick: true,
  async run(ctx) {
    const count = ctx.pick(50, 10);
    const f = {
      running: ctx.figure({
        id: "restart.until_running",
        label: `start until ${count} pods RUNNING`,
        unit: "s",
        kind: "value",
      }),
      serving: ctx.figure({
        id: "restart.until_serving",
        label: "  start until Version answers",
        unit: "s",
        kind: "value",
      }),
      shutdown: ctx.figure({
        id: "restart.shutdown",
        label: "SIGTERM until exit",
        unit: "s",
        kind: "value",
      }),
    };
    const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
    try {
      await ctx.each(async (rt) => {
        await startFleet(pods.get(rt.name)!, "restart", count);
      });
      await ctx.alternate(ctx.pick(3, 1), async (rt) => {
        const shimsBefore = await rt.containerShimPids();
        const t0 = performance.now();
        await rt.stopDaemon();
        const t1 = performance.now();
        await rt.start();
        const t2 = performance.now();
        const deadline = Date.now() + 120_000;
        for (;;) {
          const cri = rt.cri.runtime;
          const [p, c] = await Promise.all([cri.listPodSandbox({}), cri.listContainers({})]);
          const ready = p.items.filter((x) => x.state === PodSandboxState.SANDBOX_READY).length;
          const running = c.containers.filter((x) =>
            x.state === ContainerState.CONTAINER_RUNNING
          ).length;
          if (ready === count && running === count) break;
          if (Date.now() > deadline) {
            throw unavailable(
              `after restart only ${ready}/${count} pods READY, ${running}/${count} RUNNING`,
            );
          }
          await new Promise((r) => setTimeout(r, 10));
        }
        const t3 = performance.now();
        const shimsAfter = new Set(await rt.containerShimPids());
        const lost = shimsBefore.filter((p) => !shimsAfter.has(p));
        if (lost.length > 0) throw unavailable(`${lost.length} shims died across the restart`);
        f.shutdown.add(rt.name, (t1 - t0) / 1000);
        f.serving.add(rt.name, (t2 - t1) / 1000);
        f.running.add(rt.name, (t3 - t1) / 1000);
      });
    } finally {
      for (const p of pods.values()) await p.removeAll().catch(() => {});
    }
  },
};
