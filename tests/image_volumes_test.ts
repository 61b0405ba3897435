/**
 * Image volumes (`Mount.image`, KEP-4639) through the CRI, as the kubelet sends them: an
 * image's files read-only in the container, a sub directory of it, the image pinned while
 * a container mounts it (across an agent restart), and the refusals, which leave nothing.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { CriClient, CriError, type DeepPartial } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig } from "./harness/pods.ts";
import type { Mount } from "../api/gen/api.ts";

const dec = new TextDecoder();

Deno.test("image volumes: read-only image files, sub paths, pinning and refusals", async (t) => {
  await using env = await e2eEnv();
  const { agent, images, logRoot } = env;
  let client = env.client;
  for (const img of [images.busybox, images.whiteouts, images.links]) {
    await client.image.pullImage({ image: { image: img.ref } });
  }
  const pod = podConfig(logRoot, "imagevol");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  // As the kubelet sends an image volume: the image by the ref it pulled, read-only.
  const volume = (path: string, image: string, extra: DeepPartial<Mount> = {}) => ({
    containerPath: path,
    image: { image },
    readonly: true,
    ...extra,
  });
  const create = (name: string, mounts: DeepPartial<Mount>[]) =>
    client.runtime.createContainer({
      podSandboxId: podId,
      config: containerConfig(name, images.busybox.ref, ["sleep", "1000"], { mounts }),
      sandboxConfig: pod,
    });
  const exec = async (id: string, script: string) => {
    const r = await client.runtime.execSync({
      containerId: id,
      cmd: ["sh", "-c", script],
      timeout: 10,
    });
    return { code: r.exitCode, out: dec.decode(r.stdout).trim(), err: dec.decode(r.stderr).trim() };
  };
  const pinned = async (id: string) =>
    (await client.image.listImages({})).images.find((i) => i.id === id)?.pinned;
  let ctr = "";

  try {
    await t.step("the container reads the image's files and cannot write them", async () => {
      ctr = (await create("reader", [
        volume("/vol", images.whiteouts.ref),
        volume("/sub", images.whiteouts.ref, { imageSubPath: "w/d" }),
      ])).containerId;
      await client.runtime.startContainer({ containerId: ctr });
      // The merged layers: w/b from the first layer, w/d/x deleted by the second.
      assertEquals((await exec(ctr, "cat /vol/w/b; echo; ls /vol/w/d")).out, "b\ny");
      // The sub path alone: its contents at the mount point, nothing above it.
      assertEquals((await exec(ctr, "ls -A /sub")).out, "y");
      for (const path of ["/vol/w/b", "/vol/w/new", "/sub/y", "/sub/new"]) {
        const w = await exec(ctr, `echo x > ${path}`);
        assert(w.code !== 0, `writing ${path} succeeded`);
        assertStringIncludes(w.err, "Read-only file system");
      }
      assertEquals((await exec(ctr, "cat /vol/w/b")).out, "b");
      // Not noexec (critest runs a binary from the volume).
      assertEquals((await exec(ctr, "/vol/bin/busybox echo ran")).out, "ran");
      const st = await client.runtime.containerStatus({ containerId: ctr });
      assertEquals(st.status?.mounts.map((m) => m.image?.imageRef), [
        images.whiteouts.id,
        images.whiteouts.id,
      ]);
    });

    await t.step("RemoveImage is refused naming the container; the image is pinned", async () => {
      const err = await assertRejects(
        () => client.image.removeImage({ image: { image: images.whiteouts.ref } }),
        CriError,
      );
      assertEquals(err.code, grpc.status.FAILED_PRECONDITION);
      assertStringIncludes(err.message, ctr);
      assertStringIncludes(err.message, "image volume");
      assertEquals(await pinned(images.whiteouts.id), true);
      assertEquals(await pinned(images.links.id), false);
    });

    await t.step(
      "after an agent restart the volume is there and the image still pinned",
      async () => {
        client.close();
        assertEquals((await agent.stop("SIGTERM")).code, 0, agent.tail());
        await agent.launch();
        client = new CriClient(agent.socket);
        assertEquals((await exec(ctr, "cat /vol/w/b")).out, "b");
        const err = await assertRejects(
          () => client.image.removeImage({ image: { image: images.whiteouts.id } }),
          CriError,
        );
        assertEquals(err.code, grpc.status.FAILED_PRECONDITION);
        assertEquals(await pinned(images.whiteouts.id), true);
      },
    );

    await t.step("refusals name the field and leave no mount, bundle or pin", async () => {
      const missing = `${images.host}/library/not-pulled:1`;
      const cases: [DeepPartial<Mount>, grpc.status, string][] = [
        [
          volume("/v", missing),
          grpc.status.NOT_FOUND,
          `config.mounts[0].image: image "${missing}"`,
        ],
        [
          volume("/v", images.links.ref, { imageSubPath: "l/nope" }),
          grpc.status.INVALID_ARGUMENT,
          'config.mounts[0].image_sub_path: "l/nope" does not exist',
        ],
        [
          volume("/v", images.links.ref, { imageSubPath: "l/file" }),
          grpc.status.INVALID_ARGUMENT,
          'config.mounts[0].image_sub_path: "l/file" is not a directory',
        ],
        [
          // l/abs is a symlink to /l/file: absolute, so out of the image's root.
          volume("/v", images.links.ref, { imageSubPath: "l/abs" }),
          grpc.status.INVALID_ARGUMENT,
          'config.mounts[0].image_sub_path: "l/abs" leads out of the image',
        ],
        [
          volume("/v", images.links.ref, { imageSubPath: "l/../../etc" }),
          grpc.status.INVALID_ARGUMENT,
          "config.mounts[0].image_sub_path",
        ],
        [
          volume("/v", images.links.ref, { readonly: false }),
          grpc.status.INVALID_ARGUMENT,
          "config.mounts[0].readonly must be true",
        ],
        [
          volume("/v", images.links.ref, { hostPath: "/tmp" }),
          grpc.status.INVALID_ARGUMENT,
          "config.mounts[0].host_path must be empty",
        ],
      ];
      const before = (await leftovers(agent)).containerDirs.length;
      for (const [m, code, message] of cases) {
        const err = await assertRejects(() => create("refused", [m]), CriError);
        assertEquals([err.code, err.message.includes(message)], [code, true], err.message);
        assertEquals((await leftovers(agent)).containerDirs.length, before, message);
        assertEquals(await pinned(images.links.id), false, message);
      }
      // Only the reader's rootfs and its two volumes are mounted.
      const mounts = (await leftovers(agent)).mounts.filter((m) => m.includes("/containers/"));
      assertEquals(mounts.length, 3, mounts.join("\n"));
      await client.image.removeImage({ image: { image: images.links.ref } });
    });

    await t.step("once the container is removed the image is unpinned and removable", async () => {
      await client.runtime.stopContainer({ containerId: ctr, timeout: 0 });
      await client.runtime.removeContainer({ containerId: ctr });
      assertEquals(await pinned(images.whiteouts.id), false);
      await client.image.removeImage({ image: { image: images.whiteouts.ref } });
      assertEquals(await pinned(images.whiteouts.id), undefined);
    });
  } finally {
    await client.runtime.stopPodSandbox({ podSandboxId: podId }).catch(() => {});
    await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
    if (client !== env.client) client.close();
  }
  assertEquals(await leftovers(agent), NOTHING);
});
