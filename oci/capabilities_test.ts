import { Capability } from "../api/gen/api.ts";
import { assertEquals } from "../testing/assert.ts";
import {
  canonicalCapability,
  capabilitiesFromMask,
  containerCapabilities,
  DEFAULT_CAPABILITIES,
  KNOWN_CAPABILITIES,
} from "./capabilities.ts";
import { assertFails } from "./_test_fixtures.ts";

const F = "container.linux.security_context.capabilities";
const caps = (
  add: string[] = [],
  drop: string[] = [],
  ambient: string[] = [],
  privileged = false,
  all: readonly string[] = KNOWN_CAPABILITIES,
) =>
  containerCapabilities({
    capabilities: Capability.fromPartial({
      addCapabilities: add,
      dropCapabilities: drop,
      addAmbientCapabilities: ambient,
    }),
    privileged,
    all,
    field: F,
  });

Deno.test("containerCapabilities() without a capabilities message gives the 14 defaults", () => {
  const got = containerCapabilities({
    capabilities: undefined,
    privileged: false,
    all: KNOWN_CAPABILITIES,
    field: F,
  });
  assertEquals(got, {
    bounding: [...DEFAULT_CAPABILITIES],
    effective: [...DEFAULT_CAPABILITIES],
    permitted: [...DEFAULT_CAPABILITIES],
  });
  assertEquals(DEFAULT_CAPABILITIES.length, 14);
});

Deno.test("containerCapabilities() accepts names with or without CAP_, in any case", () => {
  const got = caps(["net_admin", "CAP_SYS_TIME", "Sys_Ptrace"], ["chown", "cap_kill"]);
  assertEquals(got.bounding, [
    ...DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_CHOWN" && c !== "CAP_KILL"),
    "CAP_NET_ADMIN",
    "CAP_SYS_TIME",
    "CAP_SYS_PTRACE",
  ]);
  assertEquals(got.effective, got.bounding);
  assertEquals(got.permitted, got.bounding);
});

Deno.test("containerCapabilities() adds a default capability only once", () => {
  assertEquals(caps(["CHOWN"]).bounding, [...DEFAULT_CAPABILITIES]);
});

Deno.test("containerCapabilities() with add ALL and a drop keeps everything but the drop", () => {
  const got = caps(["ALL"], ["CHOWN"]);
  assertEquals(got.bounding, KNOWN_CAPABILITIES.filter((c) => c !== "CAP_CHOWN"));
});

Deno.test("containerCapabilities() with drop ALL and an add keeps only the add", () => {
  assertEquals(caps(["NET_BIND_SERVICE"], ["ALL"]).bounding, ["CAP_NET_BIND_SERVICE"]);
  assertEquals(caps([], ["all"]).bounding, []);
});

Deno.test("containerCapabilities() with add ALL grants the agent's capabilities, not all known", () => {
  const agent = KNOWN_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE");
  assertEquals(caps(["ALL"], [], [], false, agent).bounding, agent);
});

Deno.test("containerCapabilities() of a privileged container is every agent capability", () => {
  const agent = ["CAP_CHOWN", "CAP_SYS_ADMIN"];
  assertEquals(caps([], ["ALL"], [], true, agent), {
    bounding: agent,
    effective: agent,
    permitted: agent,
  });
});

Deno.test("containerCapabilities() puts ambient capabilities in every set they need", () => {
  const got = caps([], ["ALL"], ["net_bind_service"]);
  assertEquals(got, {
    bounding: ["CAP_NET_BIND_SERVICE"],
    effective: ["CAP_NET_BIND_SERVICE"],
    permitted: ["CAP_NET_BIND_SERVICE"],
    inheritable: ["CAP_NET_BIND_SERVICE"],
    ambient: ["CAP_NET_BIND_SERVICE"],
  });
});

Deno.test("containerCapabilities() names the field and index of an unknown capability", () => {
  assertFails(
    () => caps(["NET_ADMIN", "CAP_FOO"]),
    "invalid-argument",
    `${F}.add_capabilities[1]: unknown capability "CAP_FOO"`,
  );
  assertFails(() => caps([], ["ALL", "bogus"]), "invalid-argument", `${F}.drop_capabilities[1]`);
  assertFails(() => caps([], [], ["ALL"]), "invalid-argument", `${F}.add_ambient_capabilities[0]`);
  // ALL does not excuse a bad name elsewhere in the list.
  assertFails(() => caps(["ALL", "nope"]), "invalid-argument", "add_capabilities[1]");
});

Deno.test("canonicalCapability() maps every spelling to the kernel name", () => {
  assertEquals(canonicalCapability(" cap_bpf ", "f"), "CAP_BPF");
  assertEquals(canonicalCapability("checkpoint_restore", "f"), "CAP_CHECKPOINT_RESTORE");
});

Deno.test("capabilitiesFromMask() decodes /proc/<pid>/status masks by bit", () => {
  // This machine's agent: everything up to CAP_CHECKPOINT_RESTORE but CAP_SYS_RESOURCE.
  const got = capabilitiesFromMask("000001fffeffffff");
  assertEquals(got.length, 40);
  assertEquals(got.includes("CAP_SYS_RESOURCE"), false);
  assertEquals(capabilitiesFromMask("0000000000000001"), ["CAP_CHOWN"]);
  assertEquals(capabilitiesFromMask("0"), []);
  // Bits beyond the table (a newer kernel) are skipped.
  assertEquals(capabilitiesFromMask("ffffffffffffffff"), [...KNOWN_CAPABILITIES]);
  assertFails(() => capabilitiesFromMask("xyz"), "invalid-argument", "not a hexadecimal");
});
