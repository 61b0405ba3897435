/**
 * Stress: several concurrent clients doing random lifecycle operations for a bounded time
 * (SAUROPOD_STRESS_SECONDS, default 40), then the invariants: the agent's records match
 * `runc list`, the processes, the mounts and the cgroups, and after removing everything
 * nothing is left.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { ContainerState } from "../api/gen/api.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, eventually, leftovers, NOTHING, podConfig } from "./harness/pods.ts";

const SECONDS = Number(Deno.env.get("SAUROPOD_STRESS_SECONDS") ?? 40);
const CLIENTS = 4;

Deno.test("stress: concurrent random lifecycle operations keep records and the machine in step", async () => {
  await using env = await e2eEnv({ logLevel: "warn" });
  const { agent, images, logRoot } = env;
  await env.client.image.pullImage({ image: { image: images.busybox.ref } });
  const until = Date.now() + SECONDS * 1000;
  const counts: Record<string, number> = {};
  const unexpected: string[] = [];

  const worker = async (n: number) => {
    const c = new CriClient(agent.socket);
    const rand = (k: number) => Math.floor(Math.random() * k);
    try {
      while (Date.now() < until) {
        const pods = (await c.runtime.listPodSandbox({})).items;
        const ctrs = (await c.runtime.listContainers({})).containers;
        const pod = pods[rand(pods.length)];
        const ctr = ctrs[rand(ctrs.length)];
        const ops: [string, () => Promise<unknown>][] = [
          [
            "runp",
            () => c.runtime.runPodSandbox({ config: podConfig(logRoot, `w${n}-${rand(1e6)}`) }),
          ],
          ["create", async () => {
            if (!pod) return;
            const id = (await c.runtime.createContainer({
              podSandboxId: pod.id,
              config: containerConfig(`c${rand(1e6)}`, images.busybox.ref, [
                "sleep",
                String(1 + rand(20)),
              ]),
            })).containerId;
            if (rand(2)) await c.runtime.startContainer({ containerId: id });
          }],
          [
            "start",
            () => ctr ? c.runtime.startContainer({ containerId: ctr.id }) : Promise.resolve(),
          ],
          [
            "stop",
            () =>
              ctr
                ? c.runtime.stopContainer({ containerId: ctr.id, timeout: rand(2) })
                : Promise.resolve(),
          ],
          [
            "rm",
            () => ctr ? c.runtime.removeContainer({ containerId: ctr.id }) : Promise.resolve(),
          ],
          [
            "exec",
            () =>
              ctr
                ? c.runtime.execSync({ containerId: ctr.id, cmd: ["echo", "x"], timeout: 5 })
                : Promise.resolve(),
          ],
          ["stats", () => c.runtime.listContainerStats({})],
          [
            "stopp",
            () => pod ? c.runtime.stopPodSandbox({ podSandboxId: pod.id }) : Promise.resolve(),
          ],
          [
            "rmp",
            () => pod ? c.runtime.removePodSandbox({ podSandboxId: pod.id }) : Promise.resolve(),
          ],
          [
            "status",
            () => ctr ? c.runtime.containerStatus({ containerId: ctr.id }) : Promise.resolve(),
          ],
        ];
        // Bias towards creating, so there is something to work on.
        const [name, op] = ops[rand(10) < 3 ? rand(2) : rand(ops.length)]!;
        try {
          await op();
          counts[name] = (counts[name] ?? 0) + 1;
        } catch (err) {
          // Races between clients are expected (NOT_FOUND, FAILED_PRECONDITION); anything
          // else is a bug.
          if (!(err instanceof CriError) || ![5, 9, 6].includes(err.code)) {
            unexpected.push(`${name}: ${err instanceof Error ? err.message : err}`);
          }
        }
      }
    } finally {
      c.close();
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, n) => worker(n)));
  // deno-lint-ignore no-console -- the figures go into the closing note
  console.log(`stress: ${SECONDS}s × ${CLIENTS} clients: ${JSON.stringify(counts)}`);
  assertEquals(unexpected, []);

  // Invariants: every running container in the records is a live runc container with a
  // process (or one whose exit the record shows moments later: the sleeps end on their own,
  // so runc, asked second, may see an exit the record has not had time to show), and every
  // runc container belongs to a record.
  const c = env.client;
  const ctrs = (await c.runtime.listContainers({})).containers;
  const pods = (await c.runtime.listPodSandbox({})).items;
  const runc = JSON.parse(
    new TextDecoder().decode(
      (await new Deno.Command("runc", { args: ["--root", agent.runcRoot, "list", "-f", "json"] })
        .output())
        .stdout,
    ) || "[]",
  ) as { id: string; status: string; pid: number }[] | null;
  const runcIds = new Set((runc ?? []).map((r) => r.id));
  for (const ct of ctrs) {
    assert(
      runcIds.has(ct.id) || ct.state === ContainerState.CONTAINER_EXITED,
      `container ${ct.id} has a runc container`,
    );
    if (ct.state === ContainerState.CONTAINER_RUNNING) {
      const r = (runc ?? []).find((x) => x.id === ct.id)!;
      if (r.status === "running") {
        assert(
          await Deno.stat(`/proc/${r.pid}`).then(() => true, () => false),
          `pid ${r.pid} exists`,
        );
      } else {
        // Its sleep ended between the two snapshots: the record must follow within moments.
        assertEquals(r.status, "stopped", `runc's view of ${ct.id}`);
        await eventually(`the exit of ${ct.id}, which runc saw, in its record`, async () => {
          const st = (await c.runtime.containerStatus({ containerId: ct.id })).status!;
          return st.state === ContainerState.CONTAINER_EXITED ? true : undefined;
        }, 10_000);
      }
    }
  }
  const known = new Set([...ctrs.map((x) => x.id), ...pods.map((p) => p.id)]);
  for (const id of runcIds) assert(known.has(id), `runc container ${id} has a record`);

  for (const p of pods) await c.runtime.removePodSandbox({ podSandboxId: p.id });
  assertEquals((await c.runtime.listContainers({})).containers, []);
  assertEquals(await leftovers(agent, ["/sauropod"]), NOTHING);
});
