import { assertEquals } from "../testing/assert.ts";
import { parseChallenges } from "./_challenge.ts";

Deno.test("parseChallenges() reads a docker bearer challenge", () => {
  assertEquals(
    parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' +
        'scope="repository:library/busybox:pull"',
    ),
    [{
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/busybox:pull",
      },
    }],
  );
});

Deno.test("parseChallenges() reads basic, unquoted values and several challenges", () => {
  assertEquals(parseChallenges('Basic realm="basic-realm"'), [
    { scheme: "basic", params: { realm: "basic-realm" } },
  ]);
  assertEquals(parseChallenges('Basic realm="a", Bearer realm="https://t/x", service=reg'), [
    { scheme: "basic", params: { realm: "a" } },
    { scheme: "bearer", params: { realm: "https://t/x", service: "reg" } },
  ]);
});

Deno.test("parseChallenges() handles escapes, spaces and commas inside quotes", () => {
  assertEquals(parseChallenges('Bearer  realm = "a\\"b" , scope="repository:x:pull,push"'), [
    { scheme: "bearer", params: { realm: 'a"b', scope: "repository:x:pull,push" } },
  ]);
});

Deno.test("parseChallenges() returns nothing for an empty or garbage header", () => {
  assertEquals(parseChallenges(""), []);
  assertEquals(parseChallenges('Bearer realm="unterminated'), [
    { scheme: "bearer", params: {} },
  ]);
});
