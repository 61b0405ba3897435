import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { planSysctls, validateHostname } from "./_sysctl.ts";
import { namespaceOf, sysctlComponents } from "../lib/sysctl_names.ts";

const ALL = { net: true, ipc: true, uts: true };

Deno.test("sysctlComponents() reads dotted and slashed names like the kubelet", () => {
  assertEquals(sysctlComponents("net.ipv4.ip_forward"), ["net", "ipv4", "ip_forward"]);
  assertEquals(sysctlComponents("net/ipv4/conf/eth0.100/rp_filter"), [
    "net",
    "ipv4",
    "conf",
    "eth0.100",
    "rp_filter",
  ]);
  assertEquals(sysctlComponents("net.ipv4.conf.eth0/100.rp_filter"), [
    "net",
    "ipv4",
    "conf",
    "eth0.100",
    "rp_filter",
  ]);
});

Deno.test("namespaceOf() knows the namespaced sysctls", () => {
  assertEquals(namespaceOf(["net", "ipv4", "ip_unprivileged_port_start"]), "net");
  assertEquals(namespaceOf(["kernel", "shmmni"]), "ipc");
  assertEquals(namespaceOf(["kernel", "shm_rmid_forced"]), "ipc");
  assertEquals(namespaceOf(["kernel", "msgmax"]), "ipc");
  assertEquals(namespaceOf(["kernel", "sem"]), "ipc");
  assertEquals(namespaceOf(["fs", "mqueue", "msg_max"]), "ipc");
  assertEquals(namespaceOf(["kernel", "domainname"]), "uts");
  assertEquals(namespaceOf(["kernel", "panic"]), undefined);
  assertEquals(namespaceOf(["vm", "overcommit_memory"]), undefined);
  assertEquals(namespaceOf(["net"]), undefined);
});

Deno.test("planSysctls() resolves paths under /proc/sys", () => {
  assertEquals(
    planSysctls({
      "net.ipv4.ip_unprivileged_port_start": "80",
      "kernel/shmmni": "1000",
      "kernel.sem": "250 32000 32 128",
    }, ALL),
    [
      {
        name: "net.ipv4.ip_unprivileged_port_start",
        path: "/proc/sys/net/ipv4/ip_unprivileged_port_start",
        value: "80",
        namespace: "net",
      },
      { name: "kernel/shmmni", path: "/proc/sys/kernel/shmmni", value: "1000", namespace: "ipc" },
      {
        name: "kernel.sem",
        path: "/proc/sys/kernel/sem",
        value: "250 32000 32 128",
        namespace: "ipc",
      },
    ],
  );
});

Deno.test("planSysctls() rejects a sysctl that is not namespaced, naming it", () => {
  const err = assertThrows(
    () => planSysctls({ "kernel.panic": "1" }, ALL),
    SauropodError,
    'sysctl "kernel.panic" is not namespaced',
  );
  assertEquals(err.kind, "invalid-argument");
  assertThrows(() => planSysctls({ "vm.swappiness": "1" }, ALL), SauropodError, "vm.swappiness");
});

Deno.test("planSysctls() rejects sysctls of namespaces shared with the node", () => {
  assertThrows(
    () => planSysctls({ "net.ipv4.tcp_syncookies": "1" }, { ...ALL, net: false }),
    SauropodError,
    "shares the node's network namespace",
  );
  assertThrows(
    () => planSysctls({ "kernel.shmmni": "1" }, { ...ALL, ipc: false }),
    SauropodError,
    "shares the node's IPC namespace",
  );
  assertThrows(
    () => planSysctls({ "kernel.domainname": "x" }, { ...ALL, uts: false }),
    SauropodError,
    "shares the node's UTS namespace",
  );
});

Deno.test("planSysctls() rejects malformed names and values", () => {
  for (const name of ["net..x", "net.ipv4/../../x", "net/ipv4/../x", "net.ipv4.a b", ""]) {
    assertThrows(() => planSysctls({ [name]: "1" }, ALL), SauropodError, "not a valid sysctl");
  }
  assertThrows(
    () => planSysctls({ "kernel.hostname": "x" }, ALL),
    SauropodError,
    "pod hostname comes from its own field",
  );
  for (const value of ["", "1\n2", "a\0"]) {
    assertThrows(
      () => planSysctls({ "net.ipv4.tcp_syncookies": value }, ALL),
      SauropodError,
      "invalid value",
    );
  }
});

Deno.test("validateHostname() accepts what the kernel stores whole", () => {
  validateHostname("web-0");
  validateHostname("a".repeat(64));
  for (const bad of ["", "a".repeat(65), "a b", "a\nb", "a/b"]) {
    assertThrows(() => validateHostname(bad), SauropodError, "hostname");
  }
});
