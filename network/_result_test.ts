import { assertEquals, assertThrows } from "../testing/assert.ts";
import {
  isIPv4,
  isIPv6,
  parseCidr,
  parseErrorResult,
  parseResult,
  podIps,
  ResultError,
} from "./_result.ts";

// What bridge + host-local of containernetworking-plugins 1.1.1 print for spec 1.0.0.
const RESULT_100 = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "cni0", mac: "2a:7b:c2:24:a6:b2" },
    { name: "veth1234", mac: "2a:7b:c2:24:a6:b3" },
    { name: "eth0", mac: "ea:06:7a:46:fa:c3", sandbox: "/run/sauropod/ns/p/net" },
  ],
  ips: [
    { address: "fd00:10:88::5/64", gateway: "fd00:10:88::1", interface: 2 },
    { address: "10.88.0.5/16", gateway: "10.88.0.1", interface: 2 },
  ],
  routes: [{ dst: "0.0.0.0/0" }],
  dns: {},
};

// The same in spec 0.4.0: per-IP "version".
const RESULT_040 = {
  cniVersion: "0.4.0",
  interfaces: RESULT_100.interfaces,
  ips: [
    { version: "4", address: "10.88.0.6/16", gateway: "10.88.0.1", interface: 2 },
    { version: "6", address: "fd00:10:88::6/64", gateway: "fd00:10:88::1", interface: 2 },
  ],
  dns: {},
};

Deno.test("parseResult() reads a 1.0.0 result with IPv4 and IPv6", () => {
  const r = parseResult(RESULT_100);
  assertEquals(r.cniVersion, "1.0.0");
  assertEquals(r.interfaces[2], {
    name: "eth0",
    mac: "ea:06:7a:46:fa:c3",
    sandbox: "/run/sauropod/ns/p/net",
  });
  assertEquals(r.interfaces[0], { name: "cni0", mac: "2a:7b:c2:24:a6:b2" });
  assertEquals(r.ips.length, 2);
  assertEquals(r.ips[1], { address: "10.88.0.5/16", gateway: "10.88.0.1", interface: 2 });
});

Deno.test("podIps() puts the first IPv4 first and strips the prefix", () => {
  assertEquals(podIps(parseResult(RESULT_100), "eth0"), ["10.88.0.5", "fd00:10:88::5"]);
});

Deno.test("parseResult() reads a 0.4.0 result", () => {
  const r = parseResult(RESULT_040);
  assertEquals(r.cniVersion, "0.4.0");
  assertEquals(podIps(r, "eth0"), ["10.88.0.6", "fd00:10:88::6"]);
});

Deno.test("parseResult() converts a 0.2.0 result", () => {
  const r = parseResult({
    cniVersion: "0.2.0",
    ip4: { ip: "10.1.0.9/24", gateway: "10.1.0.1" },
    ip6: { ip: "2001:db8::9/64" },
  });
  assertEquals(r.ips, [
    { address: "10.1.0.9/24", gateway: "10.1.0.1" },
    { address: "2001:db8::9/64" },
  ]);
  assertEquals(podIps(r, "eth0"), ["10.1.0.9", "2001:db8::9"]);
});

Deno.test("podIps() ignores addresses of other interfaces and keeps unindexed ones", () => {
  const r = parseResult({
    cniVersion: "1.0.0",
    interfaces: [{ name: "lo", sandbox: "/ns" }, { name: "eth0", sandbox: "/ns" }],
    ips: [
      { address: "127.0.0.1/8", interface: 0 },
      { address: "10.0.0.2/24", interface: 1 },
      { address: "10.0.0.3/24" },
    ],
  });
  assertEquals(podIps(r, "eth0"), ["10.0.0.2", "10.0.0.3"]);
});

Deno.test("parseResult() rejects malformed results", () => {
  const cases: [unknown, string][] = [
    ["x", "not a JSON object"],
    [{ interfaces: {} }, '"interfaces" is not a list'],
    [{ interfaces: [{}] }, "interfaces[0] has no name"],
    [{ ips: [{}] }, "ips[0] has no address"],
    [{ ips: [{ address: "10.0.0.1" }] }, 'ips[0].address "10.0.0.1" is not a CIDR'],
    [{ ips: [{ address: "10.0.0.1/24", interface: 3 }] }, "ips[0].interface 3 is out of range"],
    [{ ip4: { ip: "nope" } }, '"ip4.ip" is not a CIDR'],
  ];
  for (const [raw, msg] of cases) assertThrows(() => parseResult(raw), ResultError, msg);
});

Deno.test("parseErrorResult() reads the spec's error structure", () => {
  assertEquals(
    parseErrorResult(
      '{"cniVersion":"1.0.0","code":7,"msg":"invalid range set","details":"no subnet"}',
    ),
    { cniVersion: "1.0.0", code: 7, msg: "invalid range set", details: "no subnet" },
  );
  assertEquals(parseErrorResult('{"code":11,"msg":"busy"}'), { code: 11, msg: "busy" });
  assertEquals(parseErrorResult("panic: runtime error"), undefined);
  assertEquals(parseErrorResult('{"msg":"no code"}'), undefined);
  assertEquals(parseErrorResult(""), undefined);
});

Deno.test("parseCidr() and the IP checks accept only real addresses", () => {
  assertEquals(parseCidr("10.88.0.0/16"), { family: 4, ip: "10.88.0.0", prefix: 16 });
  assertEquals(parseCidr("fd00::/64"), { family: 6, ip: "fd00::", prefix: 64 });
  for (const bad of ["10.88.0.0", "10.88.0.0/33", "10.88.0/16", "fd00::/129", "x/8", "1.2.3.4/"]) {
    assertEquals(parseCidr(bad), undefined, bad);
  }
  assertEquals(isIPv4("256.1.1.1"), false);
  assertEquals(isIPv4("01.1.1.1"), false);
  assertEquals(isIPv6("::1"), true);
  assertEquals(isIPv6("fe80::1::2"), false);
  assertEquals(isIPv6("1.2.3.4"), false);
});
