/**
 * Surviving restarts, crashes and shim deaths without losing a container or a byte of state:
 * agent restarts (SIGTERM, then SIGKILL three times with calls in flight) with 10 running
 * pods, a container that exits while the agent is down, a killed shim, and a crash at every
 * named fault point inside Create/Start/Remove.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { ContainerState } from "../api/gen/api.ts";
import { CriClient } from "./harness/cri_client.ts";
import { e2eEnv, sandboxConfig } from "./harness/env.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  readCriLog,
  runContainer,
  wholeLines,
} from "./harness/pods.ts";
import { FAULT_POINTS, type FaultPoint } from "../runtime/faults.ts";

const dec = new TextDecoder();

Deno.test("recovery: 10 running pods survive SIGTERM and three SIGKILLs with calls in flight", async () => {
  await using env = await e2eEnv({ logLevel: "info" });
  const { agent, images, logRoot } = env;
  let client = env.client;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pods: { podId: string; ctrId: string; logPath: string }[] = [];
  for (let i = 0; i < 10; i++) {
    const pod = podConfig(logRoot, `r${i}`);
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const ctrId = (await client.runtime.createContainer({
      podSandboxId: podId,
      // A counter every 50 ms: a gap in the log would show as a missing number.
      config: containerConfig("count", images.busybox.ref, [
        "sh",
        "-c",
        "i=0; while :; do echo $i; i=$((i+1)); sleep 0.05; done",
      ]),
      sandboxConfig: pod,
    })).containerId;
    await client.runtime.startContainer({ containerId: ctrId });
    pods.push({ podId, ctrId, logPath: `${pod.logDirectory}/count/0.log` });
  }

  const checkAll = async (c: CriClient) => {
    const running = await c.runtime.listContainers({
      filter: { state: { state: ContainerState.CONTAINER_RUNNING } },
    });
    assertEquals(running.containers.length, 10, agent.tail());
    for (const p of pods) {
      const r = await c.runtime.execSync({
        containerId: p.ctrId,
        cmd: ["echo", "alive"],
        timeout: 10,
      });
      assertEquals(dec.decode(r.stdout), "alive\n");
    }
    const stats = await c.runtime.listContainerStats({});
    assertEquals(stats.stats.length, 10);
  };

  const restart = async (signal: "SIGTERM" | "SIGKILL", inFlight: boolean) => {
    const busy: Promise<unknown>[] = [];
    if (inFlight) {
      for (const p of pods.slice(0, 5)) {
        busy.push(
          client.runtime.execSync({ containerId: p.ctrId, cmd: ["sleep", "1"], timeout: 5 }).catch(
            () => {},
          ),
          client.runtime.containerStatus({ containerId: p.ctrId }).catch(() => {}),
        );
      }
      busy.push(client.runtime.listContainerStats({}).catch(() => {}));
    }
    client.close();
    const st = await agent.stop(signal);
    if (signal === "SIGTERM") assertEquals(st.code, 0, agent.tail());
    await Promise.all(busy);
    await agent.launch();
    client = new CriClient(agent.socket);
    await checkAll(client);
  };

  await checkAll(client);
  await restart("SIGTERM", false);
  for (let i = 0; i < 3; i++) await restart("SIGKILL", true);

  // No log gap: every counter value is there, in order, in each container's log.
  await new Promise((r) => setTimeout(r, 300));
  for (const p of pods) {
    const nums = wholeLines(await readCriLog(p.logPath), "stdout").map(Number);
    assert(nums.length > 20, `log of ${p.ctrId} has ${nums.length} lines`);
    nums.forEach((n, i) => assertEquals(n, i, `log of ${p.ctrId} line ${i}`));
  }

  for (const p of pods) await client.runtime.stopContainer({ containerId: p.ctrId, timeout: 0 });
  for (const p of pods) await client.runtime.removePodSandbox({ podSandboxId: p.podId });
  client.close();
  assertEquals(await leftovers(agent, ["/sauropod"]), NOTHING);
});

Deno.test("recovery: a container that exits while the agent is down reports its real exit", async () => {
  await using env = await e2eEnv();
  const { agent, images, logRoot } = env;
  await env.client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "downtime");
  const podId = (await env.client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    env.client,
    podId,
    containerConfig("brief", images.busybox.ref, ["sh", "-c", "sleep 1; exit 5"]),
    pod,
  );
  env.client.close();
  const downAt = BigInt(Date.now()) * 1_000_000n;
  await agent.stop("SIGKILL");
  await new Promise((r) => setTimeout(r, 2500));
  const upAt = BigInt(Date.now()) * 1_000_000n;
  await agent.launch();
  const client = new CriClient(agent.socket);
  try {
    const st = (await client.runtime.containerStatus({ containerId: id })).status!;
    assertEquals(st.state, ContainerState.CONTAINER_EXITED);
    assertEquals([st.exitCode, st.reason], [5, "Error"]);
    assert(st.finishedAt > downAt && st.finishedAt < upAt, "finished while the agent was down");
    await client.runtime.removePodSandbox({ podSandboxId: podId });
  } finally {
    client.close();
  }
  assertEquals(await leftovers(agent), NOTHING);
});

Deno.test("recovery: a killed shim is noticed, and its container can still be removed", async () => {
  await using env = await e2eEnv();
  const { agent, client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "orphan");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
    pod,
  );
  const shimPid = Number((await Deno.readTextFile(`${agent.state}/shims/${id}/shim.pid`)).trim());
  Deno.kill(shimPid, "SIGKILL");
  const st = await eventually("the agent to notice the dead shim", async () => {
    const s = (await client.runtime.containerStatus({ containerId: id })).status!;
    return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
  });
  assert(/shim/.test(st.message), `the message says what happened: ${st.message}`);
  assertEquals(st.exitCode, 137);
  await client.runtime.removeContainer({ containerId: id });
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(agent), NOTHING);
});

Deno.test("recovery: a crash at each fault point is rolled back or forward", async (t) => {
  await using env = await e2eEnv({ logLevel: "info" });
  const { agent, images, logRoot } = env;
  const pause = images.pause.ref;
  await env.client.image.pullImage({ image: { image: images.busybox.ref } });
  env.client.close();

  for (const point of FAULT_POINTS) {
    await t.step(point, async () => {
      // A pod and a container ready before the crash, for the points that need them.
      let client = new CriClient(agent.socket);
      const pod = podConfig(logRoot, point.replace(/[^a-z]/g, "").slice(0, 40));
      let podId = "";
      let ctrId = "";
      const needsPod = !point.startsWith("sandbox-run");
      if (needsPod) {
        podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
        if (
          point.startsWith("container-start") || point.startsWith("container-remove") ||
          point.startsWith("sandbox-remove")
        ) {
          ctrId = (await client.runtime.createContainer({
            podSandboxId: podId,
            config: containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
            sandboxConfig: pod,
          })).containerId;
          if (!point.startsWith("container-start")) {
            await client.runtime.startContainer({ containerId: ctrId });
          }
        }
      }
      client.close();
      await agent.stop("SIGTERM");
      await agent.reconfigure(sandboxConfig(pause, `[debug]\nfault_points = ["${point}"]`));
      await agent.launch();
      client = new CriClient(agent.socket);
      const op = operation(point as FaultPoint, client, {
        podId,
        ctrId,
        pod,
        image: images.busybox.ref,
      });
      await op.catch(() => {}); // the agent dies under the call
      client.close();
      await eventually(
        "the agent to die at the fault point",
        () => agentDead(agent.pid) ? true : undefined,
      );
      await agent.stop("SIGKILL").catch(() => {});
      await agent.reconfigure(sandboxConfig(pause));
      await agent.launch();
      client = new CriClient(agent.socket);
      try {
        const pods = (await client.runtime.listPodSandbox({})).items;
        const ctrs = (await client.runtime.listContainers({})).containers;
        if (point.startsWith("sandbox-run")) assertEquals(pods.length, 0, "rolled back");
        if (point.startsWith("sandbox-remove")) assertEquals(pods.length, 0, "rolled forward");
        if (point.startsWith("container-create")) assertEquals(ctrs.length, 0, "rolled back");
        if (point.startsWith("container-remove")) assertEquals(ctrs.length, 0, "rolled forward");
        if (point.startsWith("container-start")) {
          assertEquals(ctrs[0]?.state, ContainerState.CONTAINER_RUNNING, "the start went through");
        }
        for (const p of pods) await client.runtime.removePodSandbox({ podSandboxId: p.id });
      } finally {
        client.close();
      }
      assertEquals(await leftovers(agent, ["/sauropod"]), NOTHING);
    });
  }
});

function agentDead(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.split(") ")[1]?.startsWith("Z") ?? true;
  } catch {
    return true;
  }
}

function operation(
  point: FaultPoint,
  client: CriClient,
  o: { podId: string; ctrId: string; pod: ReturnType<typeof podConfig>; image: string },
): Promise<unknown> {
  switch (point.split(":")[0]) {
    case "sandbox-run":
      return client.runtime.runPodSandbox({ config: o.pod });
    case "sandbox-remove":
      return client.runtime.removePodSandbox({ podSandboxId: o.podId });
    case "container-create":
      // With an image volume, so that every create point has one mounted to roll back (and
      // container-create:after-volumes is reached at all).
      return client.runtime.createContainer({
        podSandboxId: o.podId,
        config: containerConfig("c", o.image, ["sleep", "100000"], {
          mounts: [{ containerPath: "/vol", image: { image: o.image }, readonly: true }],
        }),
        sandboxConfig: o.pod,
      });
    case "container-start":
      return client.runtime.startContainer({ containerId: o.ctrId });
    default:
      return client.runtime.removeContainer({ containerId: o.ctrId });
  }
}
