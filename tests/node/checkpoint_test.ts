/**
 * Checkpoint and restore for real (the guest's kernel 6.1 runs Debian's CRIU 3.17, which
 * this development machine's 6.18 cannot): a counter container, which also changed its
 * rootfs (a file added, one deleted), is checkpointed while it runs on; the archive is
 * root-only; its pod is removed; a new pod's CreateContainer names the archive and its
 * StartContainer restores it: the process continues counting from the number it had
 * reached (its log carries the old lines, then the next numbers), the rootfs changes are
 * back, and its exit is recorded as for any container.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { ContainerState } from "../../api/gen/api.ts";
import { containerConfig, leftovers, NOTHING, podConfig, readCriLog } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { onNode, sleep, step } from "./_node.ts";

const dec = new TextDecoder();

async function numbers(path: string): Promise<number[]> {
  const lines = await readCriLog(path).catch(() => []);
  return lines.filter((l) => l.stream === "stdout" && /^\d+$/.test(l.text.trim())).map((l) =>
    Number(l.text.trim())
  ).filter(
    (n) => Number.isInteger(n),
  );
}

Deno.test(onNode(
  "checkpoint: a counter checkpointed, its pod removed, restored into a new pod, counting on",
  "node",
  async (t) => {
    await using env = await nodeEnv({ driver: "cgroupfs" });
    const { agent, client, images, logRoot } = env;
    const ckptDir = `${agent.dir}/checkpoints`;
    await Deno.mkdir(ckptDir, { recursive: true });
    const location = `${ckptDir}/counter.tar`;
    const script = "touch /marker; rm -f /bin/yes; i=0; while true; do echo $i; " +
      "i=$((i+1)); sleep 0.2; done";
    const counter = containerConfig("counter", images.busybox.ref, ["sh", "-c", script]);
    const oldPod = podConfig(logRoot, "ckpt-old");
    const newPod = podConfig(logRoot, "ckpt-new");
    const pods: string[] = [];
    try {
      await step(t, "Status says checkpoint/restore is available", async () => {
        const info = JSON.parse((await client.runtime.status({ verbose: true })).info.checkpoint!);
        assertEquals(info.usable, true, JSON.stringify(info));
      });

      let oldId = "";
      let oldLog = "";
      await step(t, "a running counter is checkpointed and keeps running", async () => {
        await client.image.pullImage({ image: { image: images.busybox.ref } });
        const podId = (await client.runtime.runPodSandbox({ config: oldPod })).podSandboxId;
        pods.push(podId);
        oldId = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: counter,
          sandboxConfig: oldPod,
        })).containerId;
        await client.runtime.startContainer({ containerId: oldId });
        oldLog = `${oldPod.logDirectory}/counter/0.log`;
        for (let i = 0; i < 100 && (await numbers(oldLog)).length < 5; i++) await sleep(200);
        await client.runtime.checkpointContainer({ containerId: oldId, location, timeout: 120n });
        const st = await Deno.stat(location);
        assertEquals(st.mode! & 0o777, 0o600, "the archive is root's only");
        assertEquals(st.uid, 0);
        const s = await client.runtime.containerStatus({ containerId: oldId });
        assertEquals(s.status!.state, ContainerState.CONTAINER_RUNNING);
        const before = (await numbers(oldLog)).length;
        await sleep(1000);
        assert((await numbers(oldLog)).length > before, "it still counts after the checkpoint");
      });

      await step(t, "the old pod is removed", async () => {
        const podId = pods.shift()!;
        await client.runtime.stopPodSandbox({ podSandboxId: podId });
        await client.runtime.removePodSandbox({ podSandboxId: podId });
      });

      let restoredId = "";
      const diagnose = async (what: string) => {
        const read = (p: string) => Deno.readTextFile(p).then((x) => x.slice(-3000), (e) => `${e}`);
        const shims = `${agent.state}/shims/${restoredId}`;
        const work = `${agent.root}/containers/${restoredId}/checkpoint/work`;
        const restoreLog = (await read(`${work}/restore.log`)).split("\n").filter((l) =>
          /Error|Warn/.test(l)
        ).slice(-20).join("\n");
        // deno-lint-ignore no-console -- the guest's output is the only report of a failure
        console.error([
          `=== ${what}`,
          `--- agent\n${agent.tail(30)}`,
          `--- shim.log\n${await read(`${shims}/shim.log`)}`,
          `--- runc.log\n${await read(`${shims}/runc.log`)}`,
          `--- restore.log errors\n${restoreLog}`,
        ].join("\n"));
      };
      await step(t, "restored into a new pod: the log continues from the last number", async () => {
        try {
          await restoreStep();
        } catch (err) {
          await diagnose(String(err));
          throw err;
        }
      });
      async function restoreStep() {
        const podId = (await client.runtime.runPodSandbox({ config: newPod })).podSandboxId;
        pods.push(podId);
        const created = await client.runtime.createContainer({
          podSandboxId: podId,
          config: { ...counter, image: { image: location } },
          sandboxConfig: newPod,
        });
        const id = created.containerId;
        restoredId = id;
        const newLog = `${newPod.logDirectory}/counter/0.log`;
        const carried = await numbers(newLog);
        assert(carried.length >= 5, `the old log is carried: ${carried.length} lines`);
        const last = carried.at(-1)!;
        assertEquals(
          (await client.runtime.containerStatus({ containerId: id })).status!.state,
          ContainerState.CONTAINER_CREATED,
        );
        await client.runtime.startContainer({ containerId: id });
        let all: number[] = [];
        for (let i = 0; i < 100; i++) {
          all = await numbers(newLog);
          if (all.length >= carried.length + 5) break;
          await sleep(200);
        }
        const fresh = all.slice(carried.length);
        assert(fresh.length >= 5, `the restored counter writes: ${JSON.stringify(all.slice(-10))}`);
        // CRIU restored the shell's memory: it goes on from where it was, not from 0.
        assert(
          fresh[0]! > last - 3 && fresh[0]! <= last + 1,
          `continues from ${last}: ${JSON.stringify(fresh.slice(0, 5))}`,
        );
        for (let i = 1; i < fresh.length; i++) assertEquals(fresh[i], fresh[i - 1]! + 1);
        const s = await client.runtime.containerStatus({ containerId: id });
        assertEquals(s.status!.state, ContainerState.CONTAINER_RUNNING);
        const marker = await client.runtime.execSync({
          containerId: id,
          cmd: ["sh", "-c", "test -e /marker && ! test -e /bin/yes && echo rootfs-ok"],
          timeout: 20n,
        });
        assertEquals(dec.decode(marker.stdout).trim(), "rootfs-ok", dec.decode(marker.stderr));
        await client.runtime.stopContainer({ containerId: id, timeout: 2n });
        const after = await client.runtime.containerStatus({ containerId: id });
        assertEquals(after.status!.state, ContainerState.CONTAINER_EXITED);
      }

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
