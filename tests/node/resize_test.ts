/**
 * In-place resize on a cgroup v2 node: the kubelet's whole LinuxContainerResources (zero huge
 * page entries, swap = limit, a unified key) lands in the container's v2 files as runc maps
 * it and comes back in ContainerStatus.resources; a limit below usage is refused with the
 * old one kept; UpdatePodSandboxResources writes overhead + resources into the pod cgroup.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../../testing/assert.ts";
import { CriError } from "../harness/cri_client.ts";
import { containerConfig, eventually, podConfig } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { cgroupValue, onNode, step } from "./_node.ts";

const MiB = 1n << 20n;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test(onNode(
  "resize on cgroup v2: UpdateContainerResources and UpdatePodSandboxResources",
  "node",
  async (t) => {
    await using env = await nodeEnv({ driver: "cgroupfs" });
    const { client, images, logRoot } = env;
    const pod = podConfig(logRoot, "resize");
    const parent = `/kubepods/burstable/pod${pod.metadata!.uid}`;
    pod.linux = { ...pod.linux, cgroupParent: parent };
    let podId = "";
    try {
      await client.image.pullImage({ image: { image: images.busybox.ref } });
      podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
      const id = (await client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig("hog", images.busybox.ref, [
          "sh",
          "-c",
          "x=$(head -c 24000000 /dev/zero | tr '\\0' a); sleep 100000",
        ], { linux: { resources: { memoryLimitInBytes: 64n * MiB } } }),
        sandboxConfig: pod,
      })).containerId;
      await client.runtime.startContainer({ containerId: id });
      const cg = `${parent}/${id}`;

      await step(t, "the kubelet's resources land in the v2 files and are reported", async () => {
        const swap = await exists(`/sys/fs/cgroup${cg}/memory.swap.max`);
        const linux = {
          cpuPeriod: 100000n,
          cpuQuota: 20000n,
          cpuShares: 512n,
          memoryLimitInBytes: 48n * MiB,
          ...(swap ? { memorySwapLimitInBytes: 48n * MiB } : {}),
          hugepageLimits: [{ pageSize: "2MB", limit: 0n }, { pageSize: "1GB", limit: 0n }],
          unified: { "memory.high": String(40n * MiB) },
        };
        await client.runtime.updateContainerResources({ containerId: id, linux });
        assertEquals(await cgroupValue(cg, "memory.max"), String(48n * MiB));
        assertEquals(await cgroupValue(cg, "memory.high"), String(40n * MiB));
        assertEquals(await cgroupValue(cg, "cpu.max"), "20000 100000");
        assertEquals(await cgroupValue(cg, "cpu.weight"), "20"); // runc's shares 512 → weight
        if (swap) assertEquals(await cgroupValue(cg, "memory.swap.max"), "0");
        if (await exists(`/sys/fs/cgroup${cg}/hugetlb.2MB.max`)) {
          assertEquals(await cgroupValue(cg, "hugetlb.2MB.max"), "0");
        }
        const r = (await client.runtime.containerStatus({ containerId: id })).status?.resources
          ?.linux;
        assertEquals(r?.memoryLimitInBytes, 48n * MiB);
        assertEquals(r?.cpuQuota, 20000n);
        assertEquals(r?.unified, linux.unified);
      });

      await step(t, "a limit below usage is refused and the old one kept", async () => {
        // The hog's 24 MB must be in place first (TCG is slow to build it).
        await eventually(
          "the hog to hold 20 MiB",
          async () => BigInt(await cgroupValue(cg, "memory.current")) > 20n * MiB || undefined,
          120_000,
        );
        const err = await assertRejects(
          () =>
            client.runtime.updateContainerResources({
              containerId: id,
              linux: { memoryLimitInBytes: 4n * MiB },
            }),
          CriError,
        );
        assertStringIncludes(err.details, "linux.memory_limit_in_bytes: 4194304 is below");
        assertEquals(await cgroupValue(cg, "memory.max"), String(48n * MiB));
      });

      await step(t, "UpdatePodSandboxResources writes overhead + resources", async () => {
        await client.runtime.updatePodSandboxResources({
          podSandboxId: podId,
          overhead: { memoryLimitInBytes: 8n * MiB },
          resources: { memoryLimitInBytes: 200n * MiB, cpuShares: 1024n, cpuQuota: 100000n },
        });
        assertEquals(await cgroupValue(parent, "memory.max"), String(208n * MiB));
        assertEquals(await cgroupValue(parent, "cpu.max"), "100000 100000");
        assertEquals(await cgroupValue(parent, "cpu.weight"), "39");
      });
    } finally {
      if (podId) await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
    }
  },
));
