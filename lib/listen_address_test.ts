import { assertEquals, assertMatch } from "../testing/assert.ts";
import { parseListenAddress } from "./listen_address.ts";

Deno.test("listen address: loopback TCP, IPv4 and IPv6", () => {
  assertEquals(parseListenAddress("127.0.0.1:9101"), {
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 9101,
    loopback: true,
  });
  assertEquals(parseListenAddress("127.3.2.1:0"), {
    kind: "tcp",
    hostname: "127.3.2.1",
    port: 0,
    loopback: true,
  });
  for (const v6 of ["[::1]:9101", "[0:0:0:0:0:0:0:1]:9101", "[::0001]:9101"]) {
    const a = parseListenAddress(v6);
    assertEquals(typeof a === "object" && a.kind === "tcp" && a.loopback, true, v6);
  }
});

Deno.test("listen address: non-loopback TCP is parsed and marked so", () => {
  for (const s of ["0.0.0.0:9101", "10.1.2.3:9101", "[::]:9101", "[fe80::1]:9101", "[::2]:1"]) {
    const a = parseListenAddress(s);
    assertEquals(typeof a === "object" && a.kind === "tcp" && a.loopback, false, s);
  }
});

Deno.test("listen address: unix sockets", () => {
  assertEquals(parseListenAddress("/run/sauropod/metrics.sock"), {
    kind: "unix",
    path: "/run/sauropod/metrics.sock",
  });
  assertEquals(parseListenAddress("unix:///run/m.sock"), { kind: "unix", path: "/run/m.sock" });
  assertMatch(parseListenAddress("unix://rel.sock") as string, /must be absolute/);
  assertMatch(parseListenAddress("/run/../etc/x") as string, /"\.\."/);
  assertMatch(parseListenAddress(`/${"a".repeat(120)}`) as string, /longer than 107/);
});

Deno.test("listen address: names and junk are refused, never resolved", () => {
  for (const s of ["localhost:9101", "127.0.0.1", ":9101", "127.0.0.256:1", "1.2.3:4", "x"]) {
    assertEquals(typeof parseListenAddress(s), "string", s);
  }
  assertMatch(parseListenAddress("127.0.0.1:70000") as string, /out of range/);
  assertMatch(parseListenAddress("[1::2::3]:1") as string, /not an IP/);
});
