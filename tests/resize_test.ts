/**
 * In-place resize on this host's cgroup v1 (hybrid: hugetlb sits only in the v2 hierarchy,
 * out of runc's reach): UpdateContainerResources takes the kubelet's whole
 * LinuxContainerResources (zero huge page entries, swap, unified) and reports it back in
 * ContainerStatus.resources; what cannot apply is refused naming the field, and a refused or
 * failed resize keeps the previous limits. UpdatePodSandboxResources writes overhead +
 * resources into the pod cgroup.
 */
import * as grpc from "@grpc/grpc-js";
import { assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { e2eEnv } from "./harness/env.ts";
import { CriError } from "./harness/cri_client.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  runContainer,
} from "./harness/pods.ts";

const MiB = 1n << 20n;

Deno.test("resize: UpdateContainerResources applies the kubelet's resources on cgroup v1, refuses what cannot apply, keeps limits on failure", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "resize");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  // ~24 MiB held in a shell variable: a limit below it cannot be reached.
  const id = await runContainer(
    client,
    podId,
    containerConfig("hog", images.busybox.ref, [
      "sh",
      "-c",
      "x=$(head -c 24000000 /dev/zero | tr '\\0' a); sleep 100000",
    ], { linux: { resources: { memoryLimitInBytes: 256n * MiB } } }),
    pod,
  );
  const cg = JSON.parse(
    (await client.runtime.containerStatus({ containerId: id, verbose: true })).info.info!,
  ).cgroupsPath as string;
  const file = async (ctrl: string, name: string) =>
    (await Deno.readTextFile(`/sys/fs/cgroup/${ctrl}${cg}/${name}`)).trim();

  // What a kubelet sends: every field, a zero limit per huge page size, swap = limit
  // (NoSwap on v1), and a v2 key that has a v1 meaning.
  const kubelet = {
    cpuPeriod: 100000n,
    cpuQuota: 50000n,
    cpuShares: 512n,
    memoryLimitInBytes: 128n * MiB,
    memorySwapLimitInBytes: 128n * MiB,
    hugepageLimits: [{ pageSize: "2MB", limit: 0n }, { pageSize: "1GB", limit: 0n }],
    unified: { "pids.max": "64" },
  };
  await client.runtime.updateContainerResources({ containerId: id, linux: kubelet });
  assertEquals(await file("memory", "memory.limit_in_bytes"), String(128n * MiB));
  assertEquals(await file("memory", "memory.memsw.limit_in_bytes"), String(128n * MiB));
  assertEquals(await file("cpu", "cpu.shares"), "512");
  assertEquals(await file("cpu", "cpu.cfs_quota_us"), "50000");
  assertEquals(await file("pids", "pids.max"), "64");
  const reported = async () =>
    (await client.runtime.containerStatus({ containerId: id })).status?.resources?.linux;
  const r = await reported();
  assertEquals(r?.memoryLimitInBytes, 128n * MiB);
  assertEquals(r?.memorySwapLimitInBytes, 128n * MiB);
  assertEquals(r?.cpuQuota, 50000n);
  assertEquals(r?.cpuShares, 512n);
  assertEquals(r?.hugepageLimits, kubelet.hugepageLimits);
  assertEquals(r?.unified, { "pids.max": "64" });

  const refused = async (linux: Record<string, unknown>, code: grpc.status, text: string) => {
    const err = await assertRejects(
      () => client.runtime.updateContainerResources({ containerId: id, linux }),
      CriError,
    );
    assertEquals(err.code, code, err.details);
    assertStringIncludes(err.details, text);
  };
  // A huge page limit this node's runc cannot set; a v2-only key; a limit below usage;
  // a cpuset runc fails to write (with a memory change that must not stick).
  await refused(
    { hugepageLimits: [{ pageSize: "2MB", limit: 4n * MiB }] },
    grpc.status.INVALID_ARGUMENT,
    "linux.hugepage_limits[0]: a 2MB huge page limit is set but the node has no hugetlb",
  );
  await refused(
    { unified: { "memory.high": "1000000" } },
    grpc.status.INVALID_ARGUMENT,
    'linux.unified["memory.high"]',
  );
  // The hog's 24 MB must be in place before a 4 MiB limit can be "below usage".
  await eventually(
    "the hog to hold 20 MiB",
    async () => BigInt(await file("memory", "memory.usage_in_bytes")) > 20n * MiB || undefined,
  );
  await refused(
    { memoryLimitInBytes: 4n * MiB },
    grpc.status.FAILED_PRECONDITION,
    "linux.memory_limit_in_bytes: 4194304 is below what container",
  );
  await refused(
    { memoryLimitInBytes: 100n * MiB, cpusetCpus: "0-4095" },
    grpc.status.FAILED_PRECONDITION,
    "the previous limits are kept",
  );
  assertEquals(await file("memory", "memory.limit_in_bytes"), String(128n * MiB));
  assertEquals(await file("pids", "pids.max"), "64");
  assertEquals((await reported())?.memoryLimitInBytes, 128n * MiB);

  // Pod-level resources: overhead + resources in the pod cgroup, reported in verbose status.
  await client.runtime.updatePodSandboxResources({
    podSandboxId: podId,
    overhead: { memoryLimitInBytes: 10n * MiB, cpuShares: 10n },
    resources: { memoryLimitInBytes: 300n * MiB, cpuShares: 1024n, cpuQuota: 200000n },
  });
  const info = JSON.parse(
    (await client.runtime.podSandboxStatus({ podSandboxId: podId, verbose: true })).info.info!,
  );
  const podFile = async (ctrl: string, name: string) =>
    (await Deno.readTextFile(`/sys/fs/cgroup/${ctrl}${info.cgroupParent}/${name}`)).trim();
  assertEquals(await podFile("memory", "memory.limit_in_bytes"), String(310n * MiB));
  assertEquals(await podFile("cpu", "cpu.shares"), "1034");
  assertEquals(await podFile("cpu", "cpu.cfs_quota_us"), "200000");
  assertEquals(info.podResources.resources.memoryLimitInBytes, 300 * 2 ** 20);
  assertEquals(info.podResources.overhead.cpuShares, 10);
  const podErr = await assertRejects(
    () =>
      client.runtime.updatePodSandboxResources({
        podSandboxId: podId,
        resources: { memoryLimitInBytes: 2n * MiB },
      }),
    CriError,
  );
  assertEquals(podErr.code, grpc.status.FAILED_PRECONDITION);
  assertStringIncludes(podErr.details, "resources.memory_limit_in_bytes: 2097152 is below");
  assertEquals(await podFile("memory", "memory.limit_in_bytes"), String(310n * MiB));

  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(agent), NOTHING);
});
