import { assertEquals } from "../testing/assert.ts";
import { pluginTypes } from "./check_permissions.ts";

Deno.test("pluginTypes() lists the plugins a conflist runs itself, not their IPAM", () => {
  const conflist = {
    cniVersion: "1.0.0",
    name: "sauropod",
    plugins: [
      { type: "bridge", ipam: { type: "host-local" } },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "bridge" },
    ],
  };
  assertEquals(pluginTypes(conflist), ["bridge", "portmap"]);
});

Deno.test("pluginTypes() reads a single-plugin .conf and ignores unsafe names", () => {
  assertEquals(pluginTypes({ cniVersion: "0.4.0", name: "n", type: "macvlan" }), ["macvlan"]);
  assertEquals(pluginTypes({ plugins: [{ type: "../../bin/sh" }, { type: 7 }, {}] }), []);
});
