/**
 * CheckpointPod and RestorePod for real (KEP-5823): a pod of two counters that share a
 * volume (each appends to its own file there, opening and closing it each time, as CRIU
 * reopens open files by path) is checkpointed into one directory (pod.options, pod.dump,
 * one folder per container, all root-only), removed, and restored into a new pod whose
 * containers come back CREATED; started, each counts on from its last number.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { ContainerState } from "../../api/gen/api.ts";
import type { ContainerConfig } from "../../api/gen/api.ts";
import type { DeepPartial } from "../harness/cri_client.ts";
import { containerConfig, leftovers, NOTHING, podConfig, readCriLog } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { onNode, sleep, step } from "./_node.ts";

async function numbers(path: string): Promise<number[]> {
  const lines = await readCriLog(path).catch(() => []);
  return lines.map((l) => l.text.trim()).filter((x) => /^\d+$/.test(x)).map(
    Number,
  );
}

Deno.test(onNode(
  "checkpoint pod: two containers sharing a volume checkpointed together, restored CREATED",
  "node",
  async (t) => {
    await using env = await nodeEnv({ driver: "cgroupfs" });
    const { agent, client, images, logRoot } = env;
    const shared = `${agent.dir}/shared`;
    await Deno.mkdir(shared, { recursive: true });
    const out = `${agent.dir}/pod-checkpoint`;
    await Deno.mkdir(out, { mode: 0o700 });
    const counter = (name: string): DeepPartial<ContainerConfig> =>
      containerConfig(name, images.busybox.ref, [
        "sh",
        "-c",
        `i=0; while true; do echo $i; echo $i >> /shared/${name}; i=$((i+1)); sleep 0.2; done`,
      ], { mounts: [{ containerPath: "/shared", hostPath: shared }] });
    const configs = [counter("a"), counter("b")];
    const oldPod = podConfig(logRoot, "pod-old");
    const newPod = podConfig(logRoot, "pod-new");
    const logOf = (pod: typeof oldPod, name: string) => `${pod.logDirectory}/${name}/0.log`;
    const pods: string[] = [];
    try {
      await step(
        t,
        "CheckpointPod writes pod.options, pod.dump and a folder per container",
        async () => {
          await client.image.pullImage({
            image: { image: images.busybox.ref },
          });
          const podId = (await client.runtime.runPodSandbox({ config: oldPod }))
            .podSandboxId;
          pods.push(podId);
          const ids: string[] = [];
          for (const c of configs) {
            const id = (await client.runtime.createContainer({
              podSandboxId: podId,
              config: c,
              sandboxConfig: oldPod,
            })).containerId;
            await client.runtime.startContainer({ containerId: id });
            ids.push(id);
          }
          for (const n of ["a", "b"]) {
            for (
              let i = 0;
              i < 100 && (await numbers(logOf(oldPod, n))).length < 5;
              i++
            ) {
              await sleep(200);
            }
          }
          await client.runtime.checkpointPod({
            podSandboxId: podId,
            outputPath: out,
            containerIds: ids,
          });
          const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
          assertEquals(
            names,
            [`${ids[0]}-a`, `${ids[1]}-b`, "pod.dump", "pod.options"].sort(),
          );
          const opts = JSON.parse(
            await Deno.readTextFile(`${out}/pod.options`),
          );
          assertEquals(opts.containers, { a: `${ids[0]}-a`, b: `${ids[1]}-b` });
          assertEquals(
            (await Deno.stat(`${out}/pod.options`)).mode! & 0o777,
            0o600,
          );
          assert(
            (await Deno.stat(`${out}/${ids[0]}-a/checkpoint/inventory.img`))
              .isFile,
          );
          for (const id of ids) {
            const s = await client.runtime.containerStatus({ containerId: id });
            assertEquals(
              s.status!.state,
              ContainerState.CONTAINER_RUNNING,
              "never left frozen",
            );
          }
          await client.runtime.stopPodSandbox({ podSandboxId: podId });
          await client.runtime.removePodSandbox({ podSandboxId: podId });
          pods.shift();
        },
      );

      await step(
        t,
        "RestorePod: a new pod, both containers CREATED, then counting on",
        async () => {
          const r = await client.runtime.restorePod({
            checkpointPath: out,
            config: newPod,
            containerConfigs: configs,
          });
          pods.push(r.podSandboxId);
          assertEquals(r.restoredContainers.map((c) => c.name).sort(), [
            "a",
            "b",
          ]);
          const carried: Record<string, number[]> = {};
          for (const c of r.restoredContainers) {
            const s = await client.runtime.containerStatus({
              containerId: c.containerId,
            });
            assertEquals(s.status!.state, ContainerState.CONTAINER_CREATED);
            carried[c.name] = await numbers(logOf(newPod, c.name));
            await client.runtime.startContainer({ containerId: c.containerId });
          }
          for (const c of r.restoredContainers) {
            const old = carried[c.name]!;
            let all: number[] = [];
            for (let i = 0; i < 60; i++) {
              all = await numbers(logOf(newPod, c.name));
              if (all.length >= old.length + 5) break;
              await sleep(250);
            }
            const fresh = all.slice(old.length);
            assert(
              fresh.length >= 5,
              `${c.name} writes again: ${JSON.stringify(all.slice(-8))}`,
            );
            const last = old.at(-1)!;
            assert(
              fresh[0]! > last - 3 && fresh[0]! <= last + 1,
              `${c.name} continues from ${last}: ${JSON.stringify(fresh.slice(0, 5))}`,
            );
          }
          const a = (await Deno.readTextFile(`${shared}/a`)).trim().split("\n")
            .map(Number);
          assert(
            a.length > carried.a!.length,
            "the volume is written again after the restore",
          );
        },
      );

      await step(t, "nothing is left once the pod is removed", async () => {
        const podId = pods.shift()!;
        await client.runtime.stopPodSandbox({ podSandboxId: podId });
        await client.runtime.removePodSandbox({ podSandboxId: podId });
        assertEquals(await leftovers(agent), NOTHING);
      });
    } finally {
      for (const p of pods) {
        const bounded = (x: Promise<unknown>) => Promise.race([x.catch(() => {}), sleep(30_000)]);
        await bounded(client.runtime.stopPodSandbox({ podSandboxId: p }));
        await bounded(client.runtime.removePodSandbox({ podSandboxId: p }));
      }
    }
  },
));
