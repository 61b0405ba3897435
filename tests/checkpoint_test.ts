/**
 * Checkpoint/restore through the CRI socket, on whatever node this is: Status reports what
 * `criu check` says (run here by the test itself, not taken from the agent); where CRIU
 * cannot run (this development machine: Debian's CRIU 3.17 on kernel 6.18 fails on the
 * vDSO) CheckpointContainer, CheckpointPod and RestorePod answer FAILED_PRECONDITION with
 * CRIU's own reason and the container runs on untouched, with no archive written; requests
 * that are wrong whatever CRIU can do are refused for what they are.
 *
 * The real checkpoint and restore are proven in the node tier (tests/node/checkpoint_test.ts).
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { ContainerState } from "../api/gen/api.ts";
import { CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";
import { probeCheckpoint, writeArchive } from "../checkpoint/mod.ts";
import { BlobDir, MT } from "./fixtures/_builder.ts";
import { Pusher } from "./fixtures/_push.ts";

/**
 * Pushes a checkpoint image as buildah's recipe makes one (one layer holding the archive's
 * files at /, no entrypoint) with `annotations` on its manifest; returns its reference.
 */
async function pushCheckpointImage(
  host: string,
  dir: string,
  repo: string,
  baseImage: string,
  annotations: Record<string, string>,
): Promise<string> {
  const enc = new TextEncoder();
  const blobs = new BlobDir(`${dir}/blobs-${repo}`);
  const layer = await blobs.putLayer([
    { path: "checkpoint/", type: "dir" },
    { path: "checkpoint/inventory.img", type: "file", data: new Uint8Array([1, 2, 3, 4]) },
    {
      path: "config.dump",
      type: "file",
      data: enc.encode(JSON.stringify({
        id: "d".repeat(64),
        name: "counter",
        rootfsImageRef: baseImage,
        rootfsImageName: baseImage,
        runtime: "runc",
        createdTime: "2026-12-07T21:00:00Z",
      })),
    },
    { path: "spec.dump", type: "file", data: enc.encode('{"process":{"terminal":false}}') },
  ]);
  const config = await blobs.putJson({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
    // Its own config (hence image id) per repository: annotations are kept per image id.
    config: { Labels: { repo } },
  }, MT.config);
  const manifest = await blobs.putJson({
    schemaVersion: 2,
    mediaType: MT.manifest,
    config,
    layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    annotations,
  }, MT.manifest);
  const p = new Pusher(host);
  for (const b of [config, layer]) await p.blob(repo, blobs, b);
  await p.manifest(repo, blobs, manifest, "latest");
  return `${host}/${repo}:latest`;
}

/** A checkpoint archive with made-up CRIU images, as CheckpointContainer lays it out. */
async function syntheticArchive(
  dir: string,
  name: string,
  o: { image: string; runtime?: string; mounts?: string[] },
): Promise<string> {
  const work = await Deno.makeTempDir({ dir });
  await Deno.mkdir(`${work}/images`);
  await Deno.writeFile(`${work}/images/inventory.img`, new Uint8Array([1, 2, 3, 4]));
  const location = `${dir}/${name}.tar`;
  await writeArchive(location, {
    imageDir: `${work}/images`,
    workDir: work,
    config: {
      id: "c".repeat(64),
      name: "counter",
      rootfsImageRef: o.image,
      rootfsImageName: o.image,
      runtime: o.runtime ?? "runc",
      createdTime: "2026-12-07T21:00:00Z",
    },
    spec: new TextEncoder().encode(JSON.stringify({
      process: { terminal: false },
      mounts: [
        { destination: "/proc", type: "proc", source: "proc" },
        { destination: "/etc/hosts", type: "bind", source: "/x/hosts" },
        ...(o.mounts ?? []).map((d) => ({ destination: d, type: "bind", source: `/x${d}` })),
      ],
    })),
    status: {},
    options: { tcpEstablished: true, extUnixSk: true, shellJob: false, fileLocks: true },
    deleted: [],
    bindMounts: [],
  });
  await Deno.remove(work, { recursive: true });
  return location;
}

async function criuCheck(): Promise<{ usable: boolean; stderr: string }> {
  try {
    const out = await new Deno.Command("criu", {
      args: ["check"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    return { usable: out.success, stderr: new TextDecoder().decode(out.stderr) };
  } catch {
    return { usable: false, stderr: "criu not installed" };
  }
}

async function refused(p: Promise<unknown>, code: grpc.status, text: string): Promise<CriError> {
  const err = await assertRejects(() => p, CriError);
  assertEquals(grpc.status[err.code], grpc.status[code], err.message);
  assertStringIncludes(err.details, text);
  return err;
}

Deno.test("checkpoint: Status reports criu check; where CRIU cannot run the three RPCs are FAILED_PRECONDITION with its reason and nothing changes", async (t) => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  const criu = await criuCheck();
  const probe = await probeCheckpoint("runc");
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "ckpt");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const counter = containerConfig("counter", images.busybox.ref, [
    "sh",
    "-c",
    "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done",
  ]);
  const id = await runContainer(client, podId, counter, pod);
  const location = `${agent.dir}/ckpt.tar`;

  await t.step("Status (verbose) says whether criu check passes, and why not", async () => {
    const info = JSON.parse((await client.runtime.status({ verbose: true })).info.checkpoint!);
    assertEquals(info.usable, criu.usable && probe.usable, JSON.stringify(info));
    if (!info.usable && criu.stderr.includes("Error")) {
      // CRIU's own first error line, without its source location.
      const first = criu.stderr.split("\n").find((l) => l.startsWith("Error"))!;
      assertStringIncludes(info.reason, first.replace(/^Error \([^)]*\):\s*/, ""));
    }
  });

  await t.step(
    "an exited container is refused for being exited, whatever CRIU can do",
    async () => {
      const done = await runContainer(
        client,
        podId,
        containerConfig("done", images.busybox.ref, ["true"]),
        pod,
      );
      for (let i = 0; i < 100; i++) {
        const s = await client.runtime.containerStatus({ containerId: done });
        if (s.status!.state === ContainerState.CONTAINER_EXITED) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await refused(
        client.runtime.checkpointContainer({ containerId: done, location }),
        grpc.status.FAILED_PRECONDITION,
        "only a running container can be checkpointed",
      );
      await refused(
        client.runtime.checkpointContainer({ containerId: id, location: "relative.tar" }),
        grpc.status.INVALID_ARGUMENT,
        "location",
      );
      await refused(
        client.runtime.checkpointContainer({ containerId: id, location: "/nonexistent/dir/x.tar" }),
        grpc.status.INVALID_ARGUMENT,
        "location",
      );
      await refused(
        client.runtime.checkpointContainer({ containerId: id, location: "/var/tmp/x.tar" }),
        grpc.status.INVALID_ARGUMENT,
        "runtime.checkpoint_roots",
      );
      await refused(
        client.runtime.checkpointContainer({ containerId: "f".repeat(64), location }),
        grpc.status.NOT_FOUND,
        "not found",
      );
    },
  );

  if (!probe.usable) {
    await t.step(
      "CheckpointContainer, CheckpointPod, RestorePod: FAILED_PRECONDITION with CRIU's reason",
      async () => {
        const reason = probe.reason;
        await refused(
          client.runtime.checkpointContainer({ containerId: id, location }),
          grpc.status.FAILED_PRECONDITION,
          reason,
        );
        const dir = await Deno.makeTempDir({ dir: agent.dir });
        await refused(
          client.runtime.checkpointPod({
            podSandboxId: podId,
            outputPath: dir,
            containerIds: [id],
          }),
          grpc.status.FAILED_PRECONDITION,
          reason,
        );
        assertEquals([...Deno.readDirSync(dir)], [], "CheckpointPod wrote nothing");
        const podDir = await Deno.makeTempDir({ dir: agent.dir });
        await Deno.writeTextFile(
          `${podDir}/pod.options`,
          JSON.stringify({ version: 1, containers: { counter: `${id}-counter` } }),
        );
        await refused(
          client.runtime.restorePod({
            checkpointPath: podDir,
            config: podConfig(logRoot, "restored"),
            containerConfigs: [counter],
          }),
          grpc.status.FAILED_PRECONDITION,
          reason,
        );
        assertEquals([...Deno.readDirSync(agent.dir)].filter((e) => e.name.includes("ckpt")), []);
        const s = await client.runtime.containerStatus({ containerId: id });
        assertEquals(s.status!.state, ContainerState.CONTAINER_RUNNING);
        const pods = await client.runtime.listPodSandbox({});
        assertEquals(pods.items.length, 1, "RestorePod made no pod");
      },
    );
  }

  await t.step(
    "restore: a corrupt, foreign, mismatched or (here) unrestorable archive makes nothing",
    async () => {
      const dir = await Deno.makeTempDir({ dir: agent.dir });
      const before = (await client.runtime.listContainers({})).containers.length;
      const create = (image: string, extra: Record<string, unknown> = {}) =>
        client.runtime.createContainer({
          podSandboxId: podId,
          config: {
            ...counter,
            metadata: { name: "restored", attempt: 0 },
            image: { image },
            ...extra,
          },
          sandboxConfig: pod,
        });
      await Deno.writeFile(`${dir}/garbage.tar`, crypto.getRandomValues(new Uint8Array(2048)));
      await refused(
        create(`${dir}/garbage.tar`),
        grpc.status.INVALID_ARGUMENT,
        "checkpoint archive",
      );
      await Deno.writeTextFile(`${dir}/foreign.tar`, "");
      await refused(
        create(`${dir}/foreign.tar`),
        grpc.status.INVALID_ARGUMENT,
        "is not a checkpoint",
      );
      const withData = await syntheticArchive(dir, "data", {
        image: images.busybox.ref,
        mounts: ["/data"],
      });
      await refused(create(withData), grpc.status.INVALID_ARGUMENT, "/data");
      const crun = await syntheticArchive(dir, "crun", {
        image: images.busybox.ref,
        runtime: "crun",
      });
      await refused(create(crun), grpc.status.FAILED_PRECONDITION, 'made by runtime "crun"');
      const noImage = await syntheticArchive(dir, "noimage", { image: "127.0.0.1:1/nothing:here" });
      await refused(create(noImage), grpc.status.NOT_FOUND, "nothing:here");
      if (!probe.usable) {
        const fine = await syntheticArchive(dir, "fine", { image: images.busybox.ref });
        await refused(create(fine), grpc.status.FAILED_PRECONDITION, probe.reason);
      }
      assertEquals((await client.runtime.listContainers({})).containers.length, before);
      const left = [...Deno.readDirSync(`${agent.root}/checkpoints`)].map((e) => e.name);
      assertEquals(left, [], "no unpacked checkpoint is left");
      assertEquals(
        [...Deno.readDirSync(`${agent.root}/containers`)].length,
        before,
        "no bundle is left",
      );
    },
  );

  await t.step(
    "restore from an OCI checkpoint image: recognised by its annotation, refused when it names nothing",
    async () => {
      const dir = await Deno.makeTempDir({ dir: agent.dir });
      const before = (await client.runtime.listContainers({})).containers.length;
      const create = (image: string) =>
        client.runtime.createContainer({
          podSandboxId: podId,
          config: { ...counter, metadata: { name: "from-image", attempt: 0 }, image: { image } },
          sandboxConfig: pod,
        });
      const nothing = await pushCheckpointImage(
        images.host,
        dir,
        "ckpt/nothing",
        images.busybox.ref,
        {
          "io.kubernetes.cri-o.annotations.checkpoint.name": "",
        },
      );
      await client.image.pullImage({ image: { image: nothing } });
      await refused(create(nothing), grpc.status.INVALID_ARGUMENT, "names no container");
      if (!probe.usable) {
        const good = await pushCheckpointImage(
          images.host,
          dir,
          "ckpt/counter",
          images.busybox.ref,
          {
            "io.kubernetes.cri-o.annotations.checkpoint.name": "counter",
          },
        );
        await client.image.pullImage({ image: { image: good } });
        // Read as a checkpoint (its files are checked, its base image found), then CRIU refuses.
        await refused(create(good), grpc.status.FAILED_PRECONDITION, probe.reason);
      }
      assertEquals((await client.runtime.listContainers({})).containers.length, before);
    },
  );

  await t.step(
    "pod checkpoint and restore: wrong requests are refused for what they are",
    async () => {
      const dir = await Deno.makeTempDir({ dir: agent.dir });
      const restore = (extra: Record<string, unknown>) =>
        client.runtime.restorePod({
          checkpointPath: dir,
          config: podConfig(logRoot, "restored"),
          containerConfigs: [counter],
          ...extra,
        });
      await refused(restore({}), grpc.status.INVALID_ARGUMENT, "not a pod checkpoint");
      await Deno.writeTextFile(
        `${dir}/pod.options`,
        JSON.stringify({ version: 1, containers: { other: "x-other" } }),
      );
      await refused(restore({}), grpc.status.INVALID_ARGUMENT, "do not match");
      // An unknown handler: NOT_FOUND naming it, as RunPodSandbox.
      await refused(restore({ runtimeHandler: "kata" }), grpc.status.NOT_FOUND, '"kata"');
      await refused(
        restore({ options: { leaveRunning: "true" } }),
        grpc.status.INVALID_ARGUMENT,
        "leaveRunning",
      );
      await refused(
        client.runtime.checkpointPod({
          podSandboxId: podId,
          outputPath: dir,
          containerIds: [id],
        }),
        grpc.status.INVALID_ARGUMENT,
        "not empty",
      );
      await refused(
        client.runtime.checkpointPod({
          podSandboxId: podId,
          outputPath: dir,
          containerIds: [id, id],
        }),
        grpc.status.INVALID_ARGUMENT,
        "twice",
      );
      assertEquals((await client.runtime.listPodSandbox({})).items.length, 1, "no pod was made");
    },
  );

  await t.step("cleanup leaves nothing", async () => {
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals(await leftovers(agent), NOTHING);
    assert(true);
  });
});
