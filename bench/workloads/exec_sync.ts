/**
 * ExecSync: `echo hello` in a running container (liveness/readiness exec probes are this
 * call, every few seconds per probe on a node). Checks the output and exit code.
 *
 * @module
 */
import { unavailable } from "../../errors/mod.ts";
import { Pods } from "./_pods.ts";
import type { Workload } from "./types.ts";

const dec = new TextDecoder();

/** ExecSync latency. */
export const execSync: Workload = {
  name: "exec-sync",
  title: "ExecSync round-trip (echo in a running container)",
  quick: true,
  async run(ctx) {
    const rtt = ctx.figure({
      id: "exec-sync.rtt",
      label: "ExecSync echo",
      unit: "ms",
      kind: "distribution",
    });
    const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
    const target = new Map<string, string>();
    try {
      await ctx.each(async (rt) => {
        const { pod } = await pods.get(rt.name)!.start("exec");
        target.set(rt.name, pod.containers[0]!);
      });
      const batch = 5;
      const warmup = 1;
      const rounds = warmup + ctx.pick(20, 4);
      await ctx.alternate(rounds, async (rt, round) => {
        for (let k = 0; k < batch; k++) {
          const t0 = performance.now();
          const r = await rt.cri.runtime.execSync({
            containerId: target.get(rt.name)!,
            cmd: ["echo", "hello"],
            timeout: 10,
          });
          const ms = performance.now() - t0;
          if (r.exitCode !== 0 || dec.decode(r.stdout) !== "hello\n") {
            throw unavailable(
              `ExecSync answered exit ${r.exitCode}, stdout ${
                JSON.stringify(dec.decode(r.stdout))
              }`,
            );
          }
          if (round >= warmup) rtt.add(rt.name, ms);
        }
      });
    } finally {
      for (const p of pods.values()) await p.removeAll().catch(() => {});
    }
  },
};
