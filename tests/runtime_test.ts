/**
 * Pods and containers end to end, the crictl user's day: pull, runp, create, start, ps,
 * inspect, logs, exec -s, stop, rm, stopp, rmp — with real runc, real images from the local
 * registry, one shim per container — and nothing left behind.
 */
import * as grpc from "@grpc/grpc-js";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../testing/assert.ts";
import { ContainerState, PodSandboxState } from "../api/gen/api.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { shimProcesses } from "./harness/agent.ts";
import { e2eEnv } from "./harness/env.ts";
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

const enc = new TextDecoder();

Deno.test("runtime: the crictl user's day", async (t) => {
  await using env = await e2eEnv();
  const { client, images, logRoot } = env;
  const busybox = images.busybox.ref;

  await t.step("pull", async () => {
    const r = await client.image.pullImage({ image: { image: busybox } });
    assertEquals(r.imageRef, images.busybox.id);
  });

  const pod = podConfig(logRoot, "day");
  let podId = "";
  await t.step("runp", async () => {
    podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    assertMatch(podId, /^[0-9a-f]{64}$/);
    const st = await client.runtime.podSandboxStatus({ podSandboxId: podId, verbose: true });
    assertEquals(st.status?.state, PodSandboxState.SANDBOX_READY);
    assertEquals(st.status?.metadata?.name, "day");
    assert(st.info.info, "verbose info");
  });

  await t.step("runp with the same metadata is ALREADY_EXISTS naming the pod", async () => {
    const err = await assertRejects(() => client.runtime.runPodSandbox({ config: pod }), CriError);
    assertEquals(err.code, grpc.status.ALREADY_EXISTS);
    assertStringIncludes(err.details, podId);
  });

  const script = [
    "echo hello-out",
    "echo hello-err >&2",
    // A 100 KiB line: longer than the log line buffer, so P pieces then F.
    "head -c 102400 /dev/zero | tr '\\0' x; echo",
    "echo started > /tmp/ready",
    "exec sleep 100000",
  ].join("; ");
  let ctrId = "";
  await t.step("create and start", async () => {
    ctrId = (await client.runtime.createContainer({
      podSandboxId: podId,
      config: containerConfig("main", busybox, ["sh", "-c", script]),
      sandboxConfig: pod,
    })).containerId;
    let st = await client.runtime.containerStatus({ containerId: ctrId });
    assertEquals(st.status?.state, ContainerState.CONTAINER_CREATED);
    await client.runtime.startContainer({ containerId: ctrId });
    st = await client.runtime.containerStatus({ containerId: ctrId, verbose: true });
    assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
    assert((st.status?.startedAt ?? 0n) > 0n);
    const info = JSON.parse(st.info.info ?? "{}");
    assert(info.pid > 0, "verbose info has the pid");
    assertEquals(info.runtimeSpec.process.args, ["sh", "-c", script]);
  });

  await t.step("ps lists it, with filters", async () => {
    const all = await client.runtime.listContainers({});
    assertEquals(all.containers.map((c) => c.id), [ctrId]);
    const byPod = await client.runtime.listContainers({
      filter: { podSandboxId: podId.slice(0, 12) },
    });
    assertEquals(byPod.containers.length, 1);
    const byState = await client.runtime.listContainers({
      filter: { state: { state: ContainerState.CONTAINER_EXITED } },
    });
    assertEquals(byState.containers.length, 0);
    const byLabel = await client.runtime.listContainers({
      filter: { labelSelector: { container: "main" } },
    });
    assertEquals(byLabel.containers.length, 1);
  });

  const logPath = `${pod.logDirectory}/main/0.log`;
  await t.step("logs: both streams, and a 100 KiB line in P pieces then F", async () => {
    await eventually("the container to write its log", async () => {
      const lines = await readCriLog(logPath);
      return wholeLines(lines, "stdout").length >= 2 ? lines : undefined;
    });
    const lines = await readCriLog(logPath);
    assertEquals(wholeLines(lines, "stdout")[0], "hello-out");
    assertEquals(wholeLines(lines, "stderr"), ["hello-err"]);
    const big = wholeLines(lines, "stdout")[1]!;
    assertEquals(big.length, 102400);
    assert(lines.some((l) => l.tag === "P"), "the long line was split into P pieces");
    for (const l of lines) {
      assertMatch(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$/);
    }
  });

  await t.step("exec -s: exit code, stdout, stderr", async () => {
    const r = await client.runtime.execSync({
      containerId: ctrId,
      cmd: ["sh", "-c", "cat /tmp/ready; echo oops >&2; exit 7"],
      timeout: 10,
    });
    assertEquals(r.exitCode, 7);
    assertEquals(enc.decode(r.stdout), "started\n");
    assertEquals(enc.decode(r.stderr), "oops\n");
  });

  await t.step("exec -s with a timeout is DEADLINE_EXCEEDED", async () => {
    const err = await assertRejects(
      () => client.runtime.execSync({ containerId: ctrId, cmd: ["sleep", "30"], timeout: 1 }),
      CriError,
    );
    assertEquals(err.code, grpc.status.DEADLINE_EXCEEDED);
  });

  await t.step("stop, rm", async () => {
    await client.runtime.stopContainer({ containerId: ctrId, timeout: 2 });
    const st = await client.runtime.containerStatus({ containerId: ctrId });
    assertEquals(st.status?.state, ContainerState.CONTAINER_EXITED);
    // sleep is pid 1 of its own PID namespace with no SIGTERM handler, so the kernel drops
    // SIGTERM; after the 2 s timeout comes SIGKILL.
    assertEquals(st.status?.exitCode, 137);
    assertEquals(st.status?.reason, "Error");
    await client.runtime.stopContainer({ containerId: ctrId, timeout: 2 });
    await client.runtime.removeContainer({ containerId: ctrId });
    await client.runtime.removeContainer({ containerId: ctrId });
    const err = await assertRejects(
      () => client.runtime.containerStatus({ containerId: ctrId }),
      CriError,
    );
    assertEquals(err.code, grpc.status.NOT_FOUND);
  });

  await t.step("a container that exits on its own reports its code and reason", async () => {
    const id = await runContainer(
      client,
      podId,
      containerConfig("quitter", busybox, ["sh", "-c", "echo bye; exit 3"]),
      pod,
    );
    const st = await eventually("the container to exit", async () => {
      const s = await client.runtime.containerStatus({ containerId: id });
      return s.status?.state === ContainerState.CONTAINER_EXITED ? s.status : undefined;
    });
    assertEquals(st.exitCode, 3);
    assertEquals(st.reason, "Error");
    assert(st.finishedAt >= st.startedAt);
    const ok = await runContainer(client, podId, containerConfig("done", busybox, ["true"]), pod);
    const st2 = await eventually("the container to exit", async () => {
      const s = await client.runtime.containerStatus({ containerId: ok });
      return s.status?.state === ContainerState.CONTAINER_EXITED ? s.status : undefined;
    });
    assertEquals([st2.exitCode, st2.reason], [0, "Completed"]);
  });

  await t.step("a tty container gets a pty", async () => {
    await runContainer(
      client,
      podId,
      containerConfig("tty", busybox, ["sh", "-c", "tty; sleep 100000"], { tty: true }),
      pod,
    );
    const lines = await eventually("the tty line", async () => {
      const l = wholeLines(await readCriLog(`${pod.logDirectory}/tty/0.log`));
      return l.length ? l : undefined;
    });
    assertMatch(lines[0]!, /^\/dev\/pts\/\d+\r?$/);
  });

  await t.step("stopp, rmp leave nothing behind", async () => {
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    const st = await client.runtime.podSandboxStatus({ podSandboxId: podId });
    assertEquals(st.status?.state, PodSandboxState.SANDBOX_NOTREADY);
    for (const c of (await client.runtime.listContainers({})).containers) {
      assertEquals(c.state, ContainerState.CONTAINER_EXITED);
    }
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals((await client.runtime.listPodSandbox({})).items.length, 0);
    assertEquals((await client.runtime.listContainers({})).containers.length, 0);
    assertEquals(await leftovers(env.agent), NOTHING);
  });
});

Deno.test("runtime: bad input changes nothing", async (t) => {
  await using env = await e2eEnv();
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "bad");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;

  const expectCode = async (
    what: string,
    code: grpc.status,
    fn: () => Promise<unknown>,
    text?: string,
  ) => {
    await t.step(what, async () => {
      const err = await assertRejects(fn, CriError);
      assertEquals(err.code, code, err.message);
      if (text) assertStringIncludes(err.details, text);
    });
  };
  await expectCode(
    "unknown container id",
    grpc.status.NOT_FOUND,
    () => client.runtime.startContainer({ containerId: "f".repeat(64) }),
  );
  await expectCode(
    "unknown pod id",
    grpc.status.NOT_FOUND,
    () => client.runtime.podSandboxStatus({ podSandboxId: "a".repeat(64) }),
  );
  await expectCode(
    "image not present",
    grpc.status.NOT_FOUND,
    () =>
      client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig("x", "127.0.0.1:1/nope:latest", ["true"]),
      }),
    "nope",
  );
  await expectCode(
    "empty container name",
    grpc.status.INVALID_ARGUMENT,
    () =>
      client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig("", images.busybox.ref, ["true"]),
      }),
    "config.metadata.name",
  );
  await expectCode(
    "log path escaping the pod's log directory",
    grpc.status.INVALID_ARGUMENT,
    () =>
      client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig("x", images.busybox.ref, ["true"], {
          logPath: "../../etc/evil.log",
        }),
      }),
    "log_path",
  );
  await expectCode(
    "a mount source that does not exist",
    grpc.status.INVALID_ARGUMENT,
    () =>
      client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig("x", images.busybox.ref, ["true"], {
          mounts: [{ containerPath: "/data", hostPath: `${env.agent.dir}/no-such-dir` }],
        }),
      }),
    "mounts[0].host_path",
  );
  await t.step("a binary that does not exist: runc's own message reaches the caller", async () => {
    const err = await assertRejects(
      () =>
        client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("nobin", images.busybox.ref, ["/no/such/binary"]),
        }),
      CriError,
    );
    assertStringIncludes(
      err.details,
      'exec: "/no/such/binary": stat /no/such/binary: no such file or directory',
    );
  });

  await t.step("a wrong-state call is FAILED_PRECONDITION", async () => {
    const id = (await client.runtime.createContainer({
      podSandboxId: podId,
      config: containerConfig("once", images.busybox.ref, ["true"]),
    })).containerId;
    const err = await assertRejects(
      () => client.runtime.execSync({ containerId: id, cmd: ["true"] }),
      CriError,
    );
    assertEquals(err.code, grpc.status.FAILED_PRECONDITION);
    await client.runtime.removeContainer({ containerId: id });
  });

  await t.step("nothing was half-made", async () => {
    assertEquals((await client.runtime.listContainers({})).containers.length, 0);
    const l = await leftovers(env.agent);
    assertEquals(l.containerDirs, []);
    assertEquals(l.runcContainers, []);
  });
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(env.agent), NOTHING);
});

Deno.test("runtime: the shim outlives an agent killed with SIGKILL", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "survivor");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("c", images.busybox.ref, [
      "sh",
      "-c",
      "while :; do echo tick; sleep 0.2; done",
    ]),
  );
  const pid = JSON.parse(
    (await client.runtime.containerStatus({ containerId: id, verbose: true })).info.info!,
  ).pid;

  client.close();
  await agent.stop("SIGKILL");
  Deno.kill(pid, "SIGCONT"); // throws if the container died with the agent
  await agent.launch();
  const c2 = new CriClient(agent.socket);
  try {
    const st = await c2.runtime.containerStatus({ containerId: id });
    assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
    const r = await c2.runtime.execSync({
      containerId: id,
      cmd: ["echo", "still-here"],
      timeout: 10,
    });
    assertEquals(enc.decode(r.stdout), "still-here\n");
    await c2.runtime.removePodSandbox({ podSandboxId: podId });
  } finally {
    c2.close();
  }
  assertEquals(await leftovers(agent), NOTHING);
});

Deno.test("runtime: a stopped agent keeps its containers' shims and stops its spare shims", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "keeper");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
  );
  // A second pod, without containers: it holds a spare shim, and the node pool holds one
  // (two, when the pool grew after these two pods came as a burst: runtime/spare_shims.ts).
  const idle = (await client.runtime.runPodSandbox({ config: podConfig(logRoot, "idle") }))
    .podSandboxId;
  const spares = async () => (await shimProcesses(agent.state)).filter((s) => s.spare);
  const before = await eventually("the pod's and the pool's spare shims", async () => {
    const s = await spares();
    return s.length >= 2 ? s : undefined;
  });
  const shim = (await shimProcesses(agent.state)).filter((s) => !s.spare);
  assertEquals(shim.length, 1, "the container's shim");

  // SIGKILL: spares are left behind, and the next start removes them as orphans.
  client.close();
  await agent.stop("SIGKILL");
  await agent.launch();
  let c2 = new CriClient(agent.socket);
  try {
    await c2.runtime.version({});
    const now = (await spares()).map((s) => s.pid);
    for (const s of before) assert(!now.includes(s.pid), `the old spare ${s.pid} still runs`);
  } finally {
    c2.close();
  }

  // SIGTERM: no spare outlives the agent; the container's shim does.
  assertEquals((await agent.stop("SIGTERM")).code, 0);
  assertEquals(await spares(), []);
  assertEquals((await shimProcesses(agent.state)).map((s) => s.pid), shim.map((s) => s.pid));

  await agent.launch();
  c2 = new CriClient(agent.socket);
  try {
    const st = await c2.runtime.containerStatus({ containerId: id });
    assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
    await c2.runtime.removePodSandbox({ podSandboxId: podId });
    await c2.runtime.removePodSandbox({ podSandboxId: idle });
  } finally {
    c2.close();
  }
  assertEquals(await leftovers(agent, ["/sauropod"]), NOTHING);
});

Deno.test("runtime: 20 pods × 2 containers at once, then all removed, nothing left", async () => {
  await using env = await e2eEnv({ logLevel: "info" });
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const ids = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const pod = podConfig(logRoot, `many${i}`);
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    await Promise.all(["a", "b"].map(async (name) => {
      await runContainer(
        client,
        podId,
        containerConfig(name, images.busybox.ref, ["sleep", "100000"]),
        pod,
      );
    }));
    return podId;
  }));
  const running = await client.runtime.listContainers({
    filter: { state: { state: ContainerState.CONTAINER_RUNNING } },
  });
  assertEquals(running.containers.length, 40);
  await Promise.all(ids.map((podSandboxId) => client.runtime.removePodSandbox({ podSandboxId })));
  assertEquals((await client.runtime.listPodSandbox({})).items.length, 0);
  assertEquals(await leftovers(env.agent, ["/sauropod"]), { ...NOTHING });
});
