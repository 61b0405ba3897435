// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals, assertStringIncludes } from "../../testing/assert.ts";
import { podHosts, resolvConf } from "./files.ts";

Deno.test("resolvConf() writes search, nameservers and options in resolv.conf order", () => {
  assertEquals(
    resolvConf({
      servers: ["10.96.0.10", "1.1.1.1"],
      searches: ["ns.svc.cluster.local", "svc.cluster.local"],
      options: ["ndots:5"],
    }),
    "search ns.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:5\n",
  );
});

Deno.test("resolvConf() of an empty DNSConfig defers to the node's file", () => {
  assertEquals(resolvConf(undefined), undefined);
  assertEquals(resolvConf({ servers: [], searches: [], options: [] }), undefined);
});

Deno.test("podHosts() names localhost for v4 and v6", () => {
  assertStringIncludes(podHosts(), "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost");
});
