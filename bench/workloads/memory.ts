/**
 * Memory with 50 running pods: the agent's RSS and PSS, the shims' PSS per pod (summed from
 * `/proc/PID/smaps_rollup`; containerd runs one `containerd-shim-runc-v2` per pod, sauropod
 * one shim per container), and the whole per-pod overhead: shims plus whatever else runs in
 * the pod's cgroup besides its containers (containerd's pause process).
 *
 * @module
 */
import { cgroupDir } from "../../cgroups/mod.ts";
import { processMemory } from "../_proc.ts";
import type { BenchRuntime } from "../runtimes.ts";
import { Pods, type StartedPod, startFleet } from "./_pods.ts";
import type { Workload, WorkloadContext } from "./types.ts";

const MIB = 2 ** 20;

async function pssSum(pids: Iterable<number>): Promise<number> {
  let sum = 0;
  for (const pid of pids) sum += (await processMemory(pid))?.pss ?? 0;
  return sum;
}

/** Pids in a cgroup directory and every directory below it, by directory name. */
async function procsByDir(
  dir: string,
  out = new Map<string, number[]>(),
): Promise<Map<string, number[]>> {
  const text = await Deno.readTextFile(`${dir}/cgroup.procs`).catch(() => "");
  out.set(dir, text.split("\n").filter(Boolean).map(Number));
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await procsByDir(`${dir}/${e.name}`, out);
    }
  } catch {
    // Gone.
  }
  return out;
}

/** Processes of the pods that are not in any of their containers' cgroups (sandboxes). */
async function sandboxPids(ctx: WorkloadContext, pods: StartedPod[]): Promise<number[]> {
  const mount = ctx.cgroups.v1.get("memory") ?? ctx.cgroups.unified;
  if (!mount) return [];
  const out: number[] = [];
  for (const pod of pods) {
    const containers = new Set(pod.containers);
    for (const [dir, pids] of await procsByDir(cgroupDir(mount, pod.cgroup.path))) {
      const leaf = dir.slice(dir.lastIndexOf("/") + 1);
      if (![...containers].some((c) => leaf === c || leaf.includes(c))) out.push(...pids);
    }
  }
  return out;
}

/** Agent and per-pod memory with 50 pods. */
export const memory: Workload = {
  name: "memory",
  title: "memory with 50 running pods, 10 with --quick (agent, shims per pod)",
  quick: true,
  async run(ctx) {
    const count = ctx.memoryPods ?? ctx.pick(50, 10);
    const f = {
      agentRss: ctx.figure({
        id: "memory.agent_rss",
        label: `agent RSS (${count} pods)`,
        unit: "MiB",
        kind: "value",
      }),
      agentPss: ctx.figure({
        id: "memory.agent_pss",
        label: `agent PSS (${count} pods)`,
        unit: "MiB",
        kind: "value",
      }),
      shimPss: ctx.figure({
        id: "memory.shim_pss_per_pod",
        label: "shim PSS per pod",
        unit: "MiB",
        kind: "value",
        goal: 1.5,
      }),
      overhead: ctx.figure({
        id: "memory.overhead_pss_per_pod",
        label: "shims + sandbox processes PSS per pod",
        unit: "MiB",
        kind: "value",
      }),
    };
    const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
    const fleets = new Map<string, StartedPod[]>();
    const read = async (rt: BenchRuntime) => {
      const fleet = fleets.get(rt.name)!;
      const agent = await processMemory(rt.pid);
      // Containers' shims; sauropod's spares (started ahead, no container yet) apart.
      const all = await rt.shimPids();
      const shims = await rt.containerShimPids();
      const shimSet = new Set(all);
      const spares = all.filter((p) => !shims.includes(p));
      const sandboxes = (await sandboxPids(ctx, fleet)).filter((p) => !shimSet.has(p));
      const shimBytes = await pssSum(shims);
      const sandboxBytes = await pssSum(sandboxes);
      const spareBytes = await pssSum(spares);
      return {
        agent,
        shims: shims.length,
        spares: spares.length,
        spareBytes,
        sandboxes: sandboxes.length,
        shimBytes,
        sandboxBytes,
      };
    };
    try {
      await ctx.each(async (rt) => {
        fleets.set(rt.name, await startFleet(pods.get(rt.name)!, "mem", count));
      });
      // Let start-up garbage be collected and the shims settle into their idle state.
      await new Promise((r) => setTimeout(r, 3000));
      await ctx.alternate(ctx.pick(3, 1), async (rt, i) => {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        const m = await read(rt);
        if (!m.agent) throw new Error(`cannot read the memory of ${rt.name} (pid ${rt.pid})`);
        f.agentRss.add(rt.name, m.agent.rss / MIB);
        f.agentPss.add(rt.name, m.agent.pss / MIB);
        f.shimPss.add(rt.name, m.shimBytes / count / MIB);
        f.overhead.add(rt.name, (m.shimBytes + m.sandboxBytes) / count / MIB);
        if (i === 0) {
          ctx.note(
            `${rt.name}: ${m.shims} shim processes and ${m.sandboxes} sandbox processes ` +
              `for ${count} pods; ${m.spares} spare shims (${
                (m.spareBytes / MIB).toFixed(1)
              } MiB PSS, not in the per-pod figures)`,
          );
        }
      });
    } finally {
      for (const p of pods.values()) await p.removeAll().catch(() => {});
    }
  },
};
