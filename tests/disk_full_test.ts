/**
 * A full disk under the agent's root dir: calls fail with clear errors (RESOURCE_EXHAUSTED
 * naming the cause), nothing is half-made, the metadata store is not corrupted, and
 * everything works again once space is freed — also across a restart.
 */
import * as grpc from "@grpc/grpc-js";
import { assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { ContainerState } from "../api/gen/api.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

async function sh(...args: string[]): Promise<string> {
  const out = await new Deno.Command(args[0]!, { args: args.slice(1), stderr: "piped" }).output();
  if (!out.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** Fills the filesystem holding `dir` with one file; returns its path. */
async function fill(dir: string): Promise<string> {
  const avail = Number((await sh("df", "-B1", "--output=avail", dir)).split("\n")[1]);
  const path = `${dir}/filler`;
  await sh("fallocate", "-l", String(avail), path);
  return path;
}

Deno.test("disk full: clear errors, nothing half-made, and the store survives", async () => {
  // The agent's root on a small tmpfs of the test's own.
  const dir = `/tmp/sf-${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(`${dir}/root`, { recursive: true });
  await sh("mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", `${dir}/root`);
  try {
    await using env = await e2eEnv({ dir, logLevel: "info" });
    const { agent, images, logRoot } = env;
    let client = env.client;
    await client.image.pullImage({ image: { image: images.busybox.ref } });
    const filler = await fill(`${dir}/root`);

    const pull = await assertRejects(
      () => client.image.pullImage({ image: { image: images.whiteouts.ref } }),
      CriError,
    );
    assertEquals(pull.code, grpc.status.RESOURCE_EXHAUSTED, pull.details);
    const runp = await assertRejects(
      () => client.runtime.runPodSandbox({ config: podConfig(logRoot, "full") }),
      CriError,
    );
    assertEquals(runp.code, grpc.status.RESOURCE_EXHAUSTED, runp.details);
    assertMatch(runp.details, /No space left on device|disk .* is full/);
    assertEquals((await client.runtime.listPodSandbox({})).items.length, 0, "no half-made pod");
    assertEquals(await leftovers(agent), { ...NOTHING, mounts: [`${dir}/root`] });

    await Deno.remove(filler);
    const pod = podConfig(logRoot, "after");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const ctrId = await runContainer(
      client,
      podId,
      containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
      pod,
    );

    // Full again while a pod runs, then a crash: the store still loads and knows the pod.
    const filler2 = await fill(`${dir}/root`);
    await client.runtime.stopContainer({ containerId: ctrId, timeout: 0 }).catch(() => {});
    client.close();
    await agent.stop("SIGKILL");
    await Deno.remove(filler2);
    await agent.launch();
    client = new CriClient(agent.socket);
    const st = (await client.runtime.containerStatus({ containerId: ctrId })).status!;
    assertEquals(st.state, ContainerState.CONTAINER_EXITED);
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    client.close();
    assertEquals(await leftovers(agent), { ...NOTHING, mounts: [`${dir}/root`] });
  } finally {
    await sh("umount", "-l", `${dir}/root`).catch(() => "");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
