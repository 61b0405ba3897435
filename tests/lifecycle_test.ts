/**
 * The rest of the container lifecycle through the CRI: lifecycle events, resources updated
 * live, log reopening for rotation, and a pod sharing one PID namespace (the only pods that
 * get a pause container).
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { ContainerEventType, ContainerState, NamespaceMode } from "../api/gen/api.ts";
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

const dec = new TextDecoder();

Deno.test("lifecycle: GetContainerEvents streams created, started, stopped and deleted", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const ac = new AbortController();
  const seen: [string, ContainerEventType, boolean][] = [];
  const reader = (async () => {
    try {
      for await (const e of client.runtime.getContainerEvents({}, { signal: ac.signal })) {
        seen.push([e.containerId, e.containerEventType, e.podSandboxStatus !== undefined]);
      }
    } catch {
      // cancelled
    }
  })();
  await new Promise((r) => setTimeout(r, 200));
  const pod = podConfig(logRoot, "evented");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
    pod,
  );
  await client.runtime.stopContainer({ containerId: id, timeout: 0 });
  await client.runtime.removeContainer({ containerId: id });
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  await eventually(
    "the pod's deleted event",
    () =>
      seen.some(([c, t]) => c === podId && t === ContainerEventType.CONTAINER_DELETED_EVENT) ||
      undefined,
  );
  ac.abort();
  await reader;
  const of = (cid: string) => seen.filter(([c]) => c === cid).map(([, t]) => t);
  const {
    CONTAINER_CREATED_EVENT: C,
    CONTAINER_STARTED_EVENT: S,
    CONTAINER_STOPPED_EVENT: P,
    CONTAINER_DELETED_EVENT: D,
  } = ContainerEventType;
  assertEquals(of(id), [C, S, P, D]);
  assertEquals(of(podId), [C, S, P, D]);
  assert(
    seen.filter(([c]) => c === id).every(([, , hasPod]) => hasPod),
    "events carry the pod status",
  );
});

Deno.test("lifecycle: UpdateContainerResources applies live; ReopenContainerLog loses nothing", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "tuned");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("ticker", images.busybox.ref, [
      "sh",
      "-c",
      "i=0; while :; do echo $i; i=$((i+1)); sleep 0.02; done",
    ], { linux: { resources: { memoryLimitInBytes: 256n << 20n } } }),
    pod,
  );

  const limitFile = async () => {
    const cg = JSON.parse(
      (await client.runtime.containerStatus({ containerId: id, verbose: true })).info.info!,
    )
      .cgroupsPath as string;
    return (await Deno.readTextFile(`/sys/fs/cgroup/memory${cg}/memory.limit_in_bytes`)).trim();
  };
  assertEquals(await limitFile(), String(256 << 20));
  await client.runtime.updateContainerResources({
    containerId: id,
    linux: { memoryLimitInBytes: 128n << 20n, cpuShares: 512n },
  });
  assertEquals(await limitFile(), String(128 << 20));
  const st = await client.runtime.containerStatus({ containerId: id });
  assertEquals(st.status?.resources?.linux?.memoryLimitInBytes, 128n << 20n);

  // Log rotation as the kubelet does it: rename, then ReopenContainerLog.
  const log = `${pod.logDirectory}/ticker/0.log`;
  await new Promise((r) => setTimeout(r, 300));
  await Deno.rename(log, `${log}.1`);
  await client.runtime.reopenContainerLog({ containerId: id });
  await new Promise((r) => setTimeout(r, 300));
  await client.runtime.stopContainer({ containerId: id, timeout: 0 });
  const before = wholeLines(await readCriLog(`${log}.1`), "stdout").map(Number);
  const after = wholeLines(await readCriLog(log), "stdout").map(Number);
  assert(
    before.length > 3 && after.length > 3,
    `lines before ${before.length}, after ${after.length}`,
  );
  [...before, ...after].forEach((n, i) => assertEquals(n, i, `line ${i} across the rotation`));
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(agent), NOTHING);
});

Deno.test("lifecycle: a pod sharing one PID namespace runs a pause container as PID 1", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "shared", {
    linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
  });
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const ids = [];
  for (const name of ["a", "b"]) {
    const id = await runContainer(
      client,
      podId,
      containerConfig(name, images.busybox.ref, ["sleep", "100000"], {
        linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
      }),
      pod,
    );
    ids.push(id);
  }
  const ps = dec.decode(
    (await client.runtime.execSync({
      containerId: ids[0]!,
      cmd: ["ps", "-o", "pid,args"],
      timeout: 10,
    })).stdout,
  );
  assertStringIncludes(ps.split("\n").find((l) => /^\s*1\s/.test(l)) ?? "", "catatonit");
  assertEquals(ps.split("\n").filter((l) => l.includes("sleep 100000")).length, 2, ps);
  // Killing a container leaves the pod's other container and pid 1 alone.
  await client.runtime.stopContainer({ containerId: ids[1]!, timeout: 0 });
  const st = await client.runtime.containerStatus({ containerId: ids[0]! });
  assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(agent), NOTHING);
});
