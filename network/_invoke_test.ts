import { assertEquals, assertStringIncludes, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import {
  CniPluginError,
  executionConfig,
  kindOfCniCode,
  pluginEnv,
  podCapabilityArgs,
  podCniArgs,
  validateRequest,
} from "./_invoke.ts";
import type { PodNetworkRequest } from "./types.ts";

const REQ: PodNetworkRequest = {
  podId: "4b1c0ffee",
  name: "web-0",
  namespace: "shop",
  uid: "6d0a4f0e-2b1c-4b7e-9a54-2f8a5c3e9d11",
  netnsPath: "/run/sauropod/ns/4b1c0ffee/net",
  portMappings: [
    { protocol: "tcp", containerPort: 80, hostPort: 8080, hostIp: "" },
    { protocol: "udp", containerPort: 53, hostPort: 5353, hostIp: "127.0.0.1" },
    { protocol: "tcp", containerPort: 9090, hostPort: 0, hostIp: "" },
  ],
  dns: { servers: ["10.96.0.10"], searches: ["shop.svc.cluster.local"], options: ["ndots:5"] },
  bandwidth: { ingressRate: 1_000_000 },
  cgroupParent: "/kubepods/besteffort/pod6d0a4f0e",
};

Deno.test("podCniArgs() carries the pod's Kubernetes identity like containerd", () => {
  const env = pluginEnv("ADD", {
    containerId: REQ.podId,
    netns: REQ.netnsPath,
    ifName: "eth0",
    args: podCniArgs(REQ),
    binDirs: ["/opt/cni/bin", "/usr/lib/cni"],
  });
  assertEquals(env, {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "4b1c0ffee",
    CNI_NETNS: "/run/sauropod/ns/4b1c0ffee/net",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;" +
      "K8S_POD_INFRA_CONTAINER_ID=4b1c0ffee;K8S_POD_UID=6d0a4f0e-2b1c-4b7e-9a54-2f8a5c3e9d11",
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
  });
});

Deno.test("podCapabilityArgs() builds the conventional capability arguments", () => {
  assertEquals(podCapabilityArgs(REQ, ["10.244.1.0/24", "fd00:244:1::/64"]), {
    portMappings: [
      { hostPort: 8080, containerPort: 80, protocol: "tcp" },
      { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" },
    ],
    bandwidth: { ingressRate: 1_000_000, ingressBurst: 0xffffffff },
    dns: { servers: ["10.96.0.10"], searches: ["shop.svc.cluster.local"], options: ["ndots:5"] },
    cgroupPath: "/kubepods/besteffort/pod6d0a4f0e",
    ipRanges: [[{ subnet: "10.244.1.0/24" }], [{ subnet: "fd00:244:1::/64" }]],
  });
  const { dns: _dns, ...noDns } = REQ;
  assertEquals(podCapabilityArgs({ ...noDns, portMappings: [] }, []), {
    bandwidth: { ingressRate: 1_000_000, ingressBurst: 0xffffffff },
    cgroupPath: "/kubepods/besteffort/pod6d0a4f0e",
  });
});

Deno.test("executionConfig() injects name, version, declared capabilities and prevResult", () => {
  const caps = podCapabilityArgs(REQ, []);
  const prev = { cniVersion: "1.0.0", ips: [] };
  const cfg = executionConfig(
    { name: "pods", cniVersion: "1.0.0" },
    { type: "portmap", snat: true, capabilities: { portMappings: true, bandwidth: false } },
    caps,
    prev,
  );
  assertEquals(cfg, {
    type: "portmap",
    snat: true,
    cniVersion: "1.0.0",
    name: "pods",
    runtimeConfig: { portMappings: caps["portMappings"] },
    prevResult: prev,
  });
});

Deno.test("executionConfig() overrides the plugin's own name and version and drops reserved keys", () => {
  const cfg = executionConfig(
    { name: "pods", cniVersion: "0.4.0" },
    {
      type: "bridge",
      name: "other",
      cniVersion: "0.3.1",
      runtimeConfig: { stale: true },
      prevResult: { stale: true },
      args: { cni: { ips: ["10.0.0.9"] } },
    },
    {},
  );
  assertEquals(cfg, {
    type: "bridge",
    name: "pods",
    cniVersion: "0.4.0",
    args: { cni: { ips: ["10.0.0.9"] } },
  });
});

Deno.test("validateRequest() names the bad field", () => {
  const cases: [Partial<PodNetworkRequest>, string][] = [
    [{ ...REQ, podId: "" }, "podId"],
    [{ ...REQ, podId: "../x" }, "podId"],
    [{ ...REQ, netnsPath: "rel/net" }, "netnsPath"],
    [{ ...REQ, netnsPath: "" }, "netnsPath is required"],
    [{ ...REQ, name: "a;b" }, "name"],
    [{ ...REQ, namespace: "a=b" }, "namespace"],
    [{ ...REQ, portMappings: [{ ...REQ.portMappings[0]!, containerPort: 0 }] }, "containerPort"],
    [{ ...REQ, portMappings: [{ ...REQ.portMappings[0]!, hostPort: 70000 }] }, "hostPort"],
    [
      { ...REQ, portMappings: [{ ...REQ.portMappings[0]!, protocol: "icmp" as "tcp" }] },
      "protocol",
    ],
    [{ ...REQ, bandwidth: { egressRate: -1 } }, "bandwidth.egressRate"],
  ];
  for (const [req, field] of cases) {
    const err = assertThrows(() => validateRequest(req, true), SauropodError, field);
    assertEquals(err.kind, "invalid-argument");
  }
  validateRequest(REQ, true);
  validateRequest({ podId: "abc" }, false);
});

Deno.test("CniPluginError quotes the plugin's error result", () => {
  const e = new CniPluginError({
    plugin: "bridge",
    network: "pods",
    command: "ADD",
    result: { code: 7, msg: 'invalid range set 0: "10.1.0.0/33"', details: "" },
    exitCode: 1,
    stderr: "",
    stdout: "",
  });
  assertEquals(
    e.message,
    'CNI plugin "bridge" failed ADD on network "pods": code 7: "invalid range set 0: \\"10.1.0.0/33\\""',
  );
  const crash = new CniPluginError({
    plugin: "x",
    network: "n",
    command: "DEL",
    result: undefined,
    exitCode: 2,
    stderr: "panic: boom",
    stdout: "",
  });
  assertStringIncludes(crash.message, 'failed DEL on network "n" with exit code 2: "panic: boom"');
});

Deno.test("kindOfCniCode() maps well-known CNI error codes", () => {
  assertEquals(kindOfCniCode(1), "failed-precondition");
  assertEquals(kindOfCniCode(7), "failed-precondition");
  assertEquals(kindOfCniCode(3), "not-found");
  assertEquals(kindOfCniCode(11), "unavailable");
  assertEquals(kindOfCniCode(100), "internal");
  assertEquals(kindOfCniCode(undefined), "internal");
});
