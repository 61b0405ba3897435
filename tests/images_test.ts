/**
 * The ImageService through the CRI socket, as crictl drives it (pull, images, inspecti, rmi,
 * imagefsinfo), with the agent under its real permission set: tags, digests, a multi-arch
 * index, a layer of links and devices, a registry mirror for short names, images in use,
 * and hostile layers that leave nothing behind.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig } from "./harness/pods.ts";
import { HOSTILE_TARGET } from "./fixtures/images.ts";

Deno.test("images: pull, list, inspect, remove and fs info through the CRI", async (t) => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;

  await t.step("pull by tag answers the image id; the tag and digest are listed", async () => {
    const r = await client.image.pullImage({ image: { image: images.busybox.ref } });
    assertEquals(r.imageRef, images.busybox.id);
    const list = await client.image.listImages({});
    const img = list.images.find((i) => i.id === images.busybox.id)!;
    assert(img.repoTags.includes(images.busybox.ref), JSON.stringify(img.repoTags));
    assert(
      img.repoDigests.some((d) => d.endsWith(images.busybox.digest)),
      JSON.stringify(img.repoDigests),
    );
    assert(img.size > 0n);
  });

  await t.step("every tag of one image is one image; by digest too", async () => {
    for (const ref of images.busyboxTags) await client.image.pullImage({ image: { image: ref } });
    await client.image.pullImage({
      image: { image: `${images.busybox.repo}@${images.busybox.digest}` },
    });
    const list = await client.image.listImages({});
    assertEquals(list.images.filter((i) => i.id === images.busybox.id).length, 1);
    const filtered = await client.image.listImages({
      filter: { image: { image: images.busyboxTags[0]! } },
    });
    assertEquals(filtered.images.map((i) => i.id), [images.busybox.id]);
  });

  await t.step("inspecti: status and verbose info; unknown image is an empty answer", async () => {
    const st = await client.image.imageStatus({
      image: { image: images.busybox.ref },
      verbose: true,
    });
    assertEquals(st.image?.id, images.busybox.id);
    assert(st.info.info, "verbose info");
    const none = await client.image.imageStatus({ image: { image: `${images.host}/nope:latest` } });
    assertEquals(none.image, undefined);
  });

  await t.step(
    "a short id prefix is never an image: inspecti of one hex character fails, a pod's " +
      "one-character image is NOT_FOUND",
    async () => {
      // The review's M1: `crictl inspecti "$(crictl images -q | head -c1)"`, and a pod with
      // `image: <that character>` and pull policy Never, must not reach the pulled image.
      const id = images.busybox.id;
      const one = id.slice(7, 8);
      for (const short of [one, `sha256:${one}`, id.slice(7, 18)]) {
        const st = await client.image.imageStatus({ image: { image: short } });
        assertEquals(st.image, undefined, short);
        const listed = await client.image.listImages({ filter: { image: { image: short } } });
        assertEquals(listed.images, [], short);
      }
      // What `crictl images` shows (13 hex characters) still finds it.
      const shown = await client.image.imageStatus({ image: { image: id.slice(7, 20) } });
      assertEquals(shown.image?.id, id);
      // The kubelet asks ImageStatus first (absent: ErrImageNeverPull under Never); a client
      // that goes on to CreateContainer gets NOT_FOUND.
      const pod = podConfig(logRoot, "short-image");
      const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
      try {
        const err = await assertRejects(
          () =>
            client.runtime.createContainer({
              podSandboxId: podId,
              config: containerConfig("c", one, ["true"]),
              sandboxConfig: pod,
            }),
          CriError,
        );
        assertEquals(err.code, grpc.status.NOT_FOUND);
        // Removing by one character removes nothing (and is not an error: idempotent).
        await client.image.removeImage({ image: { image: one } });
        const still = await client.image.imageStatus({ image: { image: id } });
        assertEquals(still.image?.id, id);
      } finally {
        await client.runtime.stopPodSandbox({ podSandboxId: podId });
        await client.runtime.removePodSandbox({ podSandboxId: podId });
      }
    },
  );

  await t.step("a multi-arch index yields linux/amd64", async () => {
    const r = await client.image.pullImage({ image: { image: images.multiarch.ref } });
    assertEquals(r.imageRef, images.multiarch.id);
  });

  await t.step(
    "a layer of symlinks, hardlinks, devices and xattrs unpacks under the agent's permissions",
    async () => {
      const r = await client.image.pullImage({ image: { image: images.links.ref } });
      assertEquals(r.imageRef, images.links.id);
      await client.image.pullImage({ image: { image: images.whiteouts.ref } });
    },
  );

  await t.step("an image in use is refused; after its container goes it is removed", async () => {
    const pod = podConfig(logRoot, "user");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const id = (await client.runtime.createContainer({
      podSandboxId: podId,
      config: containerConfig("c", images.busybox.ref, ["sleep", "1000"]),
      sandboxConfig: pod,
    })).containerId;
    const err = await assertRejects(
      () => client.image.removeImage({ image: { image: images.busybox.ref } }),
      CriError,
    );
    assertEquals(err.code, grpc.status.FAILED_PRECONDITION);
    await client.runtime.removeContainer({ containerId: id });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    const before = (await client.image.imageFsInfo({})).imageFilesystems[0]!;
    await client.image.removeImage({ image: { image: images.busybox.id } });
    await client.image.removeImage({ image: { image: images.busybox.id } }); // idempotent
    const list = await client.image.listImages({});
    assertEquals(list.images.some((i) => i.id === images.busybox.id), false);
    const after = (await client.image.imageFsInfo({})).imageFilesystems[0]!;
    assert(after.usedBytes!.value < before.usedBytes!.value, "layers were garbage-collected");
    assert(after.fsId?.mountpoint, "image fs mountpoint");
  });

  await t.step("hostile layers fail clearly and write nothing outside", async () => {
    for (const img of Object.values(images.hostile)) {
      const err = await assertRejects(
        () => client.image.pullImage({ image: { image: img.ref } }),
        CriError,
      );
      assert(err.details.length > 0);
      assertEquals(await Deno.stat(HOSTILE_TARGET).then(() => true, () => false), false);
    }
  });

  await t.step("a malformed reference is INVALID_ARGUMENT, an unknown tag NOT_FOUND", async () => {
    const bad = await assertRejects(
      () => client.image.pullImage({ image: { image: "UPPER/Case::x" } }),
      CriError,
    );
    assertEquals(bad.code, grpc.status.INVALID_ARGUMENT);
    const unknown = await assertRejects(
      () => client.image.pullImage({ image: { image: `${images.busybox.repo}:no-such-tag` } }),
      CriError,
    );
    assertEquals(unknown.code, grpc.status.NOT_FOUND);
    assertStringIncludes(unknown.details, "no-such-tag");
  });

  assertEquals(await leftovers(agent), NOTHING);
});

Deno.test("images: short names resolve through a docker.io mirror from the config", async () => {
  // The fixture registry holds `library/busybox`: as a docker.io mirror it serves `busybox`.
  const { testRegistry } = await import("./fixtures/images.ts");
  await using reg = await testRegistry();
  await using env = await e2eEnv({
    config: `[image]\nmirrors = { "docker.io" = ["http://${reg.images.host}"] }`,
  });
  const r = await env.client.image.pullImage({ image: { image: "busybox" } });
  assertEquals(r.imageRef, reg.images.busybox.id);
  const st = await env.client.image.imageStatus({
    image: { image: "docker.io/library/busybox:latest" },
  });
  assertEquals(st.image?.id, reg.images.busybox.id);
  assert(st.image?.repoTags.includes("docker.io/library/busybox:latest"));
});
