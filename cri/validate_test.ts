import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { podName, podNamespace, podUid } from "./validate.ts";

Deno.test("podName(), podNamespace(), podUid() take what the kubelet sends", () => {
  assertEquals(podName("nginx-7d9c5b7f4-x2x9q", "f"), "nginx-7d9c5b7f4-x2x9q");
  assertEquals(
    podName("kube-apiserver-node1.example.com", "f"),
    "kube-apiserver-node1.example.com",
  );
  assertEquals(podName("a".repeat(253), "f").length, 253);
  assertEquals(podNamespace("kube-system", "f"), "kube-system");
  assertEquals(podUid("6d0a4f0e-2b1c-4b7e-9a54-2f8a5c3e9d11", "f").length, 36);
  // A static pod's uid is a hash.
  assertEquals(podUid("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "f").length, 32);
});

Deno.test("podName(), podNamespace(), podUid() refuse what could steer CNI_ARGS, naming the field", () => {
  const cases: [(s: string, f: string) => string, string][] = [
    [podName, "x;IP=10.88.0.5"],
    [podName, "a=b"],
    [podName, "Upper"],
    [podName, "under_score"],
    [podName, "-lead"],
    [podName, "trail-"],
    [podName, "two..dots"],
    [podName, "sp ace"],
    [podName, "a".repeat(254)],
    [podNamespace, "ns;K8S_POD_NAME=other"],
    [podNamespace, "dotted.ns"],
    [podNamespace, "n".repeat(64)],
    [podUid, "u;IP=10.0.0.1"],
    [podUid, "u=1"],
    [podUid, "u 1"],
    [podUid, ""],
  ];
  for (const [fn, value] of cases) {
    const err = assertThrows(() => fn(value, "config.metadata.x"), SauropodError);
    assertEquals(err.kind, "invalid-argument", value);
    assertEquals(err.message.startsWith("config.metadata.x"), true, err.message);
  }
});
