import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { formatReference, isLoopbackHost, parseReference, tryNormalise } from "./_reference.ts";

const DIGEST = "sha256:" + "a".repeat(64);

Deno.test("parseReference() normalises the way docker does", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.35", "docker.io/library/busybox:1.35"],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["foo/bar", "docker.io/foo/bar:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["index.docker.io/library/busybox:1", "docker.io/library/busybox:1"],
    ["registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"],
    ["localhost/foo", "localhost/foo:latest"],
    ["localhost:5000/foo/bar:v1", "localhost:5000/foo/bar:v1"],
    ["127.0.0.1:5000/library/busybox", "127.0.0.1:5000/library/busybox:latest"],
    ["[::1]:5000/foo:tag", "[::1]:5000/foo:tag"],
    ["a.b/c__d/e-f.g:T_1.x-y", "a.b/c__d/e-f.g:T_1.x-y"],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    // containerd's ParseDockerRef: a digest wins over a tag.
    [`busybox:1.35@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
  ];
  for (const [input, want] of cases) {
    assertEquals(formatReference(parseReference(input)), want, input);
  }
});

Deno.test("parseReference() splits domain, path, tag and digest", () => {
  assertEquals(parseReference("localhost:5000/a/b:c"), {
    domain: "localhost:5000",
    path: "a/b",
    tag: "c",
  });
  assertEquals(parseReference(`x.io/y@${DIGEST}`), { domain: "x.io", path: "y", digest: DIGEST });
});

Deno.test("parseReference() rejects malformed references with the reason", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    [" busybox", "whitespace"],
    ["Busybox", "lowercase"],
    ["docker.io/Foo/bar", "lowercase"],
    ["busybox:", "malformed tag"],
    ["busybox:-x", "malformed tag"],
    [`busybox:${"t".repeat(129)}`, "malformed tag"],
    ["busybox@sha256:abc", "malformed digest"],
    [`busybox@sha512:${"a".repeat(128)}`, "unsupported digest algorithm"],
    ["a".repeat(64), "image id"],
    ["foo//bar", "malformed repository path"],
    ["foo/bar-", "malformed repository path"],
    [":tag", "missing repository name"],
    [`x.io/${"a/".repeat(130)}b`, "longer than 255"],
  ];
  for (const [input, why] of cases) {
    const err = assertThrows(() => parseReference(input), SauropodError, why);
    assertEquals(err.kind, "invalid-argument", input);
  }
});

Deno.test("tryNormalise() returns undefined instead of throwing", () => {
  assertEquals(tryNormalise("busybox"), "docker.io/library/busybox:latest");
  assertEquals(tryNormalise("NOPE"), undefined);
});

Deno.test("isLoopbackHost() knows localhost, 127.0.0.0/8 and [::1], with ports", () => {
  for (const h of ["localhost", "localhost:5000", "127.0.0.1", "127.1.2.3:80", "[::1]:5000"]) {
    assertEquals(isLoopbackHost(h), true, h);
  }
  for (const h of ["docker.io", "128.0.0.1", "127.0.0.256", "[::2]:5000", "localhost.evil.com"]) {
    assertEquals(isLoopbackHost(h), false, h);
  }
});
