import { assertEquals } from "../testing/assert.ts";
import { checkSysctls, sysctlNamespace } from "./sysctls.ts";
import { assertFails } from "./_test_fixtures.ts";

Deno.test("sysctlNamespace() knows which namespace a sysctl lives in", () => {
  assertEquals(sysctlNamespace("net.ipv4.ip_unprivileged_port_start"), "network");
  assertEquals(sysctlNamespace("net/core/somaxconn"), "network");
  assertEquals(sysctlNamespace("kernel.shm_rmid_forced"), "ipc");
  assertEquals(sysctlNamespace("fs.mqueue.msg_max"), "ipc");
  assertEquals(sysctlNamespace("kernel.domainname"), "uts");
  assertEquals(sysctlNamespace("vm.swappiness"), undefined);
  assertEquals(sysctlNamespace("kernel.shmall2"), undefined);
});

Deno.test("checkSysctls() passes namespaced sysctls of the pod's own namespaces", () => {
  const s = { "net.ipv4.ping_group_range": "0 2147483647", "kernel.shm_rmid_forced": "1" };
  assertEquals(checkSysctls(s, new Set(), "sandbox.linux.sysctls"), s);
});

Deno.test("checkSysctls() refuses node-wide sysctls and sysctls of host namespaces", () => {
  assertFails(
    () => checkSysctls({ "vm.overcommit_memory": "1" }, new Set(), "sandbox.linux.sysctls"),
    "invalid-argument",
    'sandbox.linux.sysctls["vm.overcommit_memory"]: not a namespaced sysctl',
  );
  assertFails(
    () => checkSysctls({ "net.ipv4.ip_forward": "1" }, new Set(["network"]), "s"),
    "invalid-argument",
    "not allowed when the pod shares the node's network namespace",
  );
  assertFails(
    () => checkSysctls({ "kernel.msgmax": "1" }, new Set(["ipc"]), "s"),
    "invalid-argument",
    "node's ipc namespace",
  );
});
