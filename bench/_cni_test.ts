// test-permissions: --allow-read=deploy/cni
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { benchConflist, DEFAULT_CONFLIST, overlaps, pickSubnets } from "./_cni.ts";

const id = {
  name: "bench-sauropod",
  bridge: "sbs-1a2b",
  subnet: "10.201.0.0/16",
  ipamDataDir: "/tmp/x/ipam",
};

Deno.test("benchConflist() keeps the shipped plugin chain and re-targets bridge and IPAM", async () => {
  const base = JSON.parse(await Deno.readTextFile(DEFAULT_CONFLIST));
  const out = benchConflist(base, id);
  assertEquals(out.name, "bench-sauropod");
  assertEquals(out.cniVersion, base.cniVersion);
  const plugins = out.plugins as Record<string, unknown>[];
  assertEquals(plugins.map((p) => p.type), base.plugins.map((p: { type: string }) => p.type));
  const bridge = plugins.find((p) => p.type === "bridge")!;
  assertEquals(bridge.bridge, "sbs-1a2b");
  assertEquals(bridge.isGateway, true);
  assertEquals(bridge.ipMasq, true);
  const ipam = bridge.ipam as Record<string, unknown>;
  assertEquals(ipam.type, "host-local");
  assertEquals(ipam.ranges, [[{ subnet: "10.201.0.0/16" }]]);
  assertEquals(ipam.dataDir, "/tmp/x/ipam");
  assertEquals(ipam.routes, [{ dst: "0.0.0.0/0" }]);
  // The input is left alone.
  assertEquals(base.name, "sauropod");
});

Deno.test("benchConflist() refuses a bridge name longer than IFNAMSIZ allows", () => {
  assertThrows(
    () => benchConflist({ plugins: [{ type: "bridge" }] }, { ...id, bridge: "a-very-long-bridge" }),
    SauropodError,
  );
});

Deno.test("benchConflist() refuses a chain without exactly one bridge plugin", () => {
  assertThrows(() => benchConflist({ plugins: [{ type: "loopback" }] }, id), SauropodError);
  assertThrows(() => benchConflist({}, id), SauropodError);
});

Deno.test("overlaps() compares networks at the shorter prefix", () => {
  assertEquals(overlaps("10.0.0.0/8", "10.201.0.0/16"), true);
  assertEquals(overlaps("10.201.3.0/24", "10.201.0.0/16"), true);
  assertEquals(overlaps("10.88.0.0/16", "10.201.0.0/16"), false);
  assertEquals(overlaps("192.168.1.1/32", "192.168.1.0/24"), true);
  assertEquals(overlaps("bogus", "10.0.0.0/8"), false);
});

Deno.test("pickSubnets() skips subnets in use and wraps around the range", () => {
  assertEquals(pickSubnets([], 2, 0), ["10.200.0.0/16", "10.201.0.0/16"]);
  assertEquals(pickSubnets(["10.200.5.0/24"], 2, 0), ["10.201.0.0/16", "10.202.0.0/16"]);
  assertEquals(pickSubnets([], 2, 49), ["10.249.0.0/16", "10.200.0.0/16"]);
  assertThrows(() => pickSubnets(["10.0.0.0/8"], 1, 0), SauropodError);
});
