import { LinuxContainerResources } from "../api/gen/api.ts";
import { assertEquals } from "../testing/assert.ts";
import { linuxResourcesFromCri, mergeCriResources, restrictOomScoreAdj } from "./resources.ts";
import { assertFails, type DeepPartial } from "./_test_fixtures.ts";

const res = (p: DeepPartial<LinuxContainerResources>) =>
  LinuxContainerResources.fromPartial(p as LinuxContainerResources);

Deno.test("linuxResourcesFromCri() of nothing is nothing, and zeros set nothing", () => {
  assertEquals(linuxResourcesFromCri(undefined), undefined);
  assertEquals(linuxResourcesFromCri(res({})), {});
});

Deno.test("linuxResourcesFromCri() maps every CRI field onto the OCI one", () => {
  const got = linuxResourcesFromCri(
    res({
      cpuPeriod: 100000n,
      cpuQuota: 50000n,
      cpuShares: 512n,
      cpusetCpus: "0-1,3",
      cpusetMems: "0",
      memoryLimitInBytes: 268435456n,
      memorySwapLimitInBytes: 536870912n,
      hugepageLimits: [{ pageSize: "2MB", limit: 4194304n }],
      unified: { "memory.high": "200000000", "io.weight": "default 100" },
    }),
    { swapAccounting: true, hugetlb: true },
  );
  assertEquals(got, {
    cpu: { period: 100000, quota: 50000, shares: 512, cpus: "0-1,3", mems: "0" },
    memory: { limit: 268435456, swap: 536870912 },
    hugepageLimits: [{ pageSize: "2MB", limit: 4194304 }],
    unified: { "memory.high": "200000000", "io.weight": "default 100" },
  });
});

Deno.test("linuxResourcesFromCri() caps swap at the memory limit when swap is accounted", () => {
  const r = res({ memoryLimitInBytes: 1048576n });
  assertEquals(linuxResourcesFromCri(r, { swapAccounting: true })?.memory, {
    limit: 1048576,
    swap: 1048576,
  });
  assertEquals(linuxResourcesFromCri(r, { swapAccounting: false })?.memory, { limit: 1048576 });
  // Without swap accounting a swap limit cannot take effect: refused, not dropped.
  assertFails(
    () => linuxResourcesFromCri(res({ memorySwapLimitInBytes: 5n }), { swapAccounting: false }),
    "invalid-argument",
    "resources.memory_swap_limit_in_bytes: swap is not accounted",
  );
  assertFails(
    () =>
      linuxResourcesFromCri(res({ memoryLimitInBytes: 10n, memorySwapLimitInBytes: 5n }), {
        swapAccounting: true,
      }),
    "invalid-argument",
    "below memory_limit_in_bytes",
  );
  assertEquals(
    linuxResourcesFromCri(res({ memorySwapLimitInBytes: -1n }), { swapAccounting: true })?.memory,
    { swap: -1 },
  );
});

Deno.test("linuxResourcesFromCri() writes swap on cgroup v2 as memory.swap.max, swap alone", () => {
  const v2 = { swapAccounting: true, cgroupVersion: 2 as const };
  assertEquals(linuxResourcesFromCri(res({ memoryLimitInBytes: 100n }), v2), {
    memory: { limit: 100 },
    unified: { "memory.swap.max": "0" },
  });
  assertEquals(
    linuxResourcesFromCri(res({ memoryLimitInBytes: 100n, memorySwapLimitInBytes: 150n }), v2),
    { memory: { limit: 100 }, unified: { "memory.swap.max": "50" } },
  );
  assertEquals(
    linuxResourcesFromCri(
      res({ memoryLimitInBytes: 100n, unified: { "memory.swap.max": "7" } }),
      v2,
    )?.unified,
    { "memory.swap.max": "7" },
  );
  assertFails(
    () => linuxResourcesFromCri(res({ memorySwapLimitInBytes: 150n }), v2),
    "invalid-argument",
    "memory_swap_limit_in_bytes: a swap limit needs memory_limit_in_bytes",
  );
});

Deno.test("linuxResourcesFromCri() passes a negative (unlimited) quota through", () => {
  assertEquals(linuxResourcesFromCri(res({ cpuQuota: -1n }))?.cpu, { quota: -1 });
});

Deno.test("linuxResourcesFromCri() drops the kubelet's zero huge page limits it cannot apply and refuses others", () => {
  // What the kubelet sends for a container without huge pages on a node with both sizes.
  const zeros = res({
    hugepageLimits: [{ pageSize: "2MB", limit: 0n }, { pageSize: "1GB", limit: 0n }],
  });
  assertEquals(linuxResourcesFromCri(zeros, { hugetlb: false }), {});
  assertEquals(linuxResourcesFromCri(zeros, { hugetlb: true, hugepageSizes: ["2MB"] }), {
    hugepageLimits: [{ pageSize: "2MB", limit: 0 }],
  });
  const r = res({ hugepageLimits: [{ pageSize: "1GB", limit: 1073741824n }] });
  assertFails(
    () => linuxResourcesFromCri(r, { field: "container.linux.resources" }),
    "invalid-argument",
    "container.linux.resources.hugepage_limits[0]: a 1GB huge page limit is set but the node has no hugetlb",
  );
  assertFails(
    () => linuxResourcesFromCri(r, { hugetlb: true, hugepageSizes: ["2MB"] }),
    "invalid-argument",
    "resources.hugepage_limits[0]: the node has no 1GB huge pages (it has 2MB)",
  );
  assertFails(
    () =>
      linuxResourcesFromCri(res({ hugepageLimits: [{ pageSize: "2 MB", limit: 1n }] }), {
        hugetlb: true,
      }),
    "invalid-argument",
    'resources.hugepage_limits[0].page_size: "2 MB"',
  );
});

Deno.test("linuxResourcesFromCri() refuses values JSON cannot carry and malformed lists", () => {
  assertFails(
    () => linuxResourcesFromCri(res({ memoryLimitInBytes: 2n ** 60n })),
    "invalid-argument",
    "resources.memory_limit_in_bytes: 1152921504606846976 is out of range",
  );
  assertFails(
    () => linuxResourcesFromCri(res({ cpusetCpus: "0-" })),
    "invalid-argument",
    'resources.cpuset_cpus: "0-"',
  );
  assertFails(
    () => linuxResourcesFromCri(res({ cpuShares: -2n })),
    "invalid-argument",
    "cpu_shares: -2 is negative",
  );
  assertFails(
    () => linuxResourcesFromCri(res({ unified: { "../memory.max": "1" } })),
    "invalid-argument",
    "is not a cgroup file name",
  );
});

Deno.test("linuxResourcesFromCri() maps unified keys onto cgroup v1 fields or refuses them", () => {
  const v1 = { cgroupVersion: 1 as const, hugetlb: true, hugepageSizes: ["2MB"] };
  assertEquals(
    linuxResourcesFromCri(
      res({
        unified: {
          "pids.max": "64",
          "memory.max": "max",
          "cpu.max": "50000 100000",
          "cpu.weight": "100",
          "cpuset.cpus": "0",
          "hugetlb.2MB.max": "0",
        },
      }),
      v1,
    ),
    {
      pids: { limit: 64 },
      memory: { limit: -1 },
      cpu: { quota: 50000, period: 100000, shares: 2597, cpus: "0" },
      hugepageLimits: [{ pageSize: "2MB", limit: 0 }],
    },
  );
  assertFails(
    () => linuxResourcesFromCri(res({ unified: { "memory.high": "1" } }), v1),
    "invalid-argument",
    'resources.unified["memory.high"]: the node runs cgroup v1',
  );
  assertFails(
    () => linuxResourcesFromCri(res({ unified: { "pids.max": "lots" } }), v1),
    "invalid-argument",
    'resources.unified["pids.max"]: "lots"',
  );
});

Deno.test("mergeCriResources() keeps what an update leaves unset", () => {
  const merged = mergeCriResources(
    res({ memoryLimitInBytes: 100n, cpuShares: 2n, oomScoreAdj: 5n, unified: { "a.b": "1" } }),
    res({ cpuShares: 512n, hugepageLimits: [{ pageSize: "2MB", limit: 0n }] }),
  );
  assertEquals(merged.memoryLimitInBytes, 100n);
  assertEquals(merged.cpuShares, 512n);
  assertEquals(merged.oomScoreAdj, 5n);
  assertEquals(merged.unified, { "a.b": "1" });
  assertEquals(merged.hugepageLimits, [{ pageSize: "2MB", limit: 0n }]);
});

Deno.test("restrictOomScoreAdj() clamps to the agent's score only when restricted", () => {
  const restricted = { restrict: true, agentScore: 0 };
  assertEquals(restrictOomScoreAdj(-998, restricted, "f"), 0);
  assertEquals(restrictOomScoreAdj(-998, { restrict: true, agentScore: -500 }, "f"), -500);
  assertEquals(restrictOomScoreAdj(1000, restricted, "f"), 1000);
  assertEquals(restrictOomScoreAdj(-998, { restrict: false, agentScore: 0 }, "f"), -998);
});

Deno.test("restrictOomScoreAdj() refuses scores the kernel refuses", () => {
  const p = { restrict: false, agentScore: 0 };
  assertFails(
    () => restrictOomScoreAdj(1001, p, "x.oom_score_adj"),
    "invalid-argument",
    "x.oom_score_adj: 1001",
  );
  assertFails(() => restrictOomScoreAdj(-1001, p, "f"), "invalid-argument", "outside -1000..1000");
});
