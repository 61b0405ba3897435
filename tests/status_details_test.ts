/**
 * What a user sees of a container and the node through the CRI: ContainerStatus.image is
 * the name the container was created with (kubectl shows it), image_ref and image_id the
 * image's id; and the pod CIDR from UpdateRuntimeConfig survives an agent restart.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { e2eEnv, testNetwork } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig } from "./harness/pods.ts";

Deno.test("ContainerStatus.image is the name the container was created with; refs are the id", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "names");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  try {
    const tag = images.busyboxTags[0]!;
    await client.image.pullImage({ image: { image: tag } });
    const id = images.busybox.id;
    const firstTag = (await client.image.imageStatus({ image: { image: id } })).image!.repoTags[0]!;
    // [image.image, user_specified_image, what the status must name]
    const cases: [string, string, string][] = [
      // The kubelet: the id it pulled, and the pod spec's name beside it.
      [id, tag, tag],
      // A client that gives only the id: the image's first tag, as containerd.
      [id, "", firstTag],
      // crictl: the name as given.
      [tag, "", tag],
    ];
    for (const [i, [image, userSpecifiedImage, shown]] of cases.entries()) {
      const { containerId } = await client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig(`c${i}`, image, ["true"], {
          image: { image, userSpecifiedImage },
        }),
        sandboxConfig: pod,
      });
      const st = (await client.runtime.containerStatus({ containerId })).status!;
      assertEquals(st.image?.image, shown, `case ${i}`);
      assertEquals(st.image?.userSpecifiedImage, userSpecifiedImage, `case ${i}`);
      assertEquals([st.imageRef, st.imageId], [id, id], `case ${i}`);
      const listed = (await client.runtime.listContainers({ filter: { id: containerId } }))
        .containers[0]!;
      assertEquals([listed.image?.image, listed.imageRef, listed.imageId], [shown, id, id]);
      await client.runtime.removeContainer({ containerId });
    }
  } finally {
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
  }
  assertEquals(await leftovers(agent), NOTHING);
});

Deno.test("the pod CIDR from UpdateRuntimeConfig is kept across an agent restart", async () => {
  // host-local with no range of its own: pods get addresses only from the pod CIDR
  // (the ipRanges capability), as a kubenet-style node config does.
  await using net = await testNetwork();
  const conf = JSON.parse(await Deno.readTextFile(`${net.confDir}/10-e2e.conflist`));
  conf.plugins[0].capabilities = { ipRanges: true };
  conf.plugins[0].ipam = { type: "host-local", dataDir: `${net.confDir}/../ipam` };
  await Deno.writeTextFile(`${net.confDir}/10-e2e.conflist`, JSON.stringify(conf));
  await using env = await e2eEnv({ cni: { confDir: net.confDir } });
  const { agent, logRoot } = env;
  let client = env.client;
  const prefix = net.subnet.slice(0, net.subnet.lastIndexOf(".") + 1);
  const runPod = async (name: string) => {
    const podId = (await client.runtime.runPodSandbox({ config: podConfig(logRoot, name) }))
      .podSandboxId;
    const ip = (await client.runtime.podSandboxStatus({ podSandboxId: podId })).status?.network
      ?.ip;
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    return ip ?? "";
  };

  try {
    const bad = await assertRejects(
      () =>
        client.runtime.updateRuntimeConfig({
          runtimeConfig: { networkConfig: { podCidr: "10.1.2.3" } },
        }),
      CriError,
    );
    assertEquals(bad.code, grpc.status.INVALID_ARGUMENT);
    assert(bad.message.includes("runtime_config.network_config.pod_cidr"), bad.message);

    await client.runtime.updateRuntimeConfig({
      runtimeConfig: { networkConfig: { podCidr: net.subnet } },
    });
    const first = await runPod("first");
    assert(first.startsWith(prefix), `${first} is in ${net.subnet}`);

    client.close();
    assertEquals((await agent.stop("SIGTERM")).code, 0, agent.tail());
    await agent.launch();
    client = new CriClient(agent.socket);
    const after = await runPod("after");
    assert(after.startsWith(prefix), `after the restart, ${after} is in ${net.subnet}`);
  } finally {
    if (client !== env.client) client.close();
  }
  assertEquals(await leftovers(agent), NOTHING);
});
