/**
 * Where the real-node tests may run: the skip reasons, from the facts of a machine. Pure:
 * runs anywhere, needs no permission.
 */
import { assertEquals, assertStringIncludes } from "../../testing/assert.ts";
import { type NodeFacts, nodeSkipReason } from "./_node.ts";

const GUEST: NodeFacts = {
  pid1: "systemd",
  cgroupMounts: ["cgroup2"],
  controllers: ["cpuset", "cpu", "io", "memory", "hugetlb", "pids"],
  guest: true,
  kernel: "6.1.0-56-amd64",
};

Deno.test("nodeSkipReason() lets every test run in the node-vm guest", () => {
  assertEquals(nodeSkipReason(GUEST, "node"), undefined);
  assertEquals(nodeSkipReason(GUEST, "disposable"), undefined);
});

Deno.test("nodeSkipReason() skips without systemd as PID 1, naming the tier to run", () => {
  const why = nodeSkipReason({ ...GUEST, pid1: "process_api", guest: false }, "node")!;
  assertStringIncludes(why, "PID 1 is process_api");
  assertStringIncludes(why, "deno task test:node");
});

Deno.test("nodeSkipReason() skips on a hybrid hierarchy, listing what is mounted", () => {
  const why = nodeSkipReason({ ...GUEST, cgroupMounts: ["tmpfs", "cgroup2", "cgroup"] }, "node")!;
  assertStringIncludes(why, "pure cgroup v2");
  assertStringIncludes(why, "tmpfs+cgroup2+cgroup");
});

Deno.test("nodeSkipReason() skips when the kubelet's controllers are not offered", () => {
  const why = nodeSkipReason({ ...GUEST, controllers: ["memory", "pids"] }, "node")!;
  assertStringIncludes(why, "controllers cpu");
});

Deno.test("nodeSkipReason() keeps machine-changing tests to a disposable node", () => {
  const realNode = { ...GUEST, guest: false };
  assertEquals(nodeSkipReason(realNode, "node"), undefined);
  assertStringIncludes(nodeSkipReason(realNode, "disposable")!, "SAUROPOD_DISPOSABLE_NODE=1");
  assertEquals(nodeSkipReason(realNode, "disposable", true), undefined);
});
