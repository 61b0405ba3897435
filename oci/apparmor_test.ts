import { SecurityProfile_ProfileType as ProfileType } from "../api/gen/api.ts";
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import {
  apparmorRequest,
  DEFAULT_PROFILE_PREFIX,
  defaultProfile,
  defaultProfileText,
  parseProfileList,
} from "./apparmor.ts";
import { assertFails } from "./_test_fixtures.ts";

const SC = "config.linux.security_context";
const sp = (profileType: ProfileType, localhostRef = "") => ({ profileType, localhostRef });

Deno.test("apparmorRequest() of nothing is RuntimeDefault, and unconfined when privileged", () => {
  assertEquals(apparmorRequest(undefined, false, SC), { kind: "default", field: SC });
  assertEquals(apparmorRequest({ apparmorProfile: "" }, false, SC), { kind: "default", field: SC });
  assertEquals(apparmorRequest(undefined, true, SC), { kind: "unconfined", field: SC });
});

Deno.test("apparmorRequest() reads the SecurityProfile message", () => {
  assertEquals(
    apparmorRequest({ apparmor: sp(ProfileType.RuntimeDefault) }, false, SC),
    { kind: "default", field: `${SC}.apparmor` },
  );
  assertEquals(
    apparmorRequest({ apparmor: sp(ProfileType.Unconfined) }, false, SC),
    { kind: "unconfined", field: `${SC}.apparmor` },
  );
  assertEquals(
    apparmorRequest({ apparmor: sp(ProfileType.Localhost, "k8s-nginx") }, false, SC),
    { kind: "localhost", name: "k8s-nginx", field: `${SC}.apparmor.localhost_ref` },
  );
  // containerd trims a "localhost/" the kubelet does not send, "just in case".
  assertEquals(
    apparmorRequest({ apparmor: sp(ProfileType.Localhost, "localhost/k8s-nginx") }, false, SC),
    { kind: "localhost", name: "k8s-nginx", field: `${SC}.apparmor.localhost_ref` },
  );
});

Deno.test("apparmorRequest() reads the deprecated apparmor_profile string, which the message overrides", () => {
  for (const path of ["runtime/default", "docker/default"]) {
    assertEquals(
      apparmorRequest({ apparmorProfile: path }, false, SC),
      { kind: "default", field: `${SC}.apparmor_profile` },
    );
  }
  assertEquals(
    apparmorRequest({ apparmorProfile: "unconfined" }, false, SC),
    { kind: "unconfined", field: `${SC}.apparmor_profile` },
  );
  assertEquals(
    apparmorRequest({ apparmorProfile: "localhost/k8s-nginx" }, false, SC),
    { kind: "localhost", name: "k8s-nginx", field: `${SC}.apparmor_profile` },
  );
  // The kubelet sends both forms; the message wins, as in containerd.
  assertEquals(
    apparmorRequest(
      { apparmor: sp(ProfileType.Unconfined), apparmorProfile: "localhost/k8s-nginx" },
      false,
      SC,
    ).kind,
    "unconfined",
  );
});

Deno.test("apparmorRequest() applies a Localhost profile to a privileged container, not RuntimeDefault", () => {
  assertEquals(
    apparmorRequest({ apparmor: sp(ProfileType.Localhost, "p") }, true, SC).kind,
    "localhost",
  );
  assertEquals(
    apparmorRequest({ apparmor: sp(ProfileType.RuntimeDefault) }, true, SC).kind,
    "unconfined",
  );
  assertEquals(
    apparmorRequest({ apparmorProfile: "runtime/default" }, true, SC).kind,
    "unconfined",
  );
});

Deno.test("apparmorRequest() refuses malformed requests, naming the field", () => {
  const cases: [Parameters<typeof apparmorRequest>[0], string][] = [
    [
      { apparmor: sp(ProfileType.RuntimeDefault, "x") },
      `${SC}.apparmor.localhost_ref: set, but the profile type is not Localhost`,
    ],
    [{ apparmor: sp(ProfileType.Localhost) }, `${SC}.apparmor.localhost_ref: empty AppArmor`],
    [{ apparmor: sp(ProfileType.Localhost, "localhost/") }, "empty AppArmor profile name"],
    [{ apparmor: sp(7 as ProfileType) }, `${SC}.apparmor.profile_type: unknown profile type 7`],
    [{ apparmorProfile: "k8s-nginx" }, `${SC}.apparmor_profile: invalid profile "k8s-nginx"`],
    [{ apparmorProfile: "localhost/a\nb" }, "contains a control character"],
    [{ apparmor: sp(ProfileType.Localhost, "x".repeat(1025)) }, "longer than 1024 bytes"],
  ];
  for (const [sc, msg] of cases) {
    assertFails(() => apparmorRequest(sc, false, SC), "invalid-argument", msg);
  }
});

const inputs = { tunablesGlobal: true, abstractionsBase: true, daemonProfile: "" };

Deno.test("defaultProfileText() is containerd's template: everything normal allowed, the host's interfaces denied", () => {
  const text = defaultProfileText("sauropod-default-x", inputs);
  assert(text.startsWith("#include <tunables/global>\n"));
  assertStringIncludes(
    text,
    'profile "sauropod-default-x" flags=(attach_disconnected,mediate_deleted) {\n' +
      "  #include <abstractions/base>\n",
  );
  for (
    const rule of [
      "  network,\n",
      "  capability,\n",
      "  file,\n",
      "  deny mount,\n",
      "  deny @{PROC}/sysrq-trigger rwklx,\n",
      "  deny /sys/kernel/security/** rwklx,\n",
      "  signal (receive) peer=runc,\n",
      '  signal (send,receive) peer="sauropod-default-x",\n',
      '  ptrace (trace,tracedby,read,readby) peer="sauropod-default-x",\n',
    ]
  ) {
    assertStringIncludes(text, rule);
  }
  assert(text.endsWith("}\n"));
});

Deno.test("defaultProfileText() defines @{PROC} itself without tunables, and lets a confined agent signal", () => {
  const text = defaultProfileText("p", {
    tunablesGlobal: false,
    abstractionsBase: false,
    daemonProfile: "sauropod-agent (enforce)",
  });
  assert(text.startsWith("@{PROC}=/proc/\n"));
  assert(!text.includes("abstractions/base"));
  assertStringIncludes(text, '  signal (receive) peer="sauropod-agent",\n');
  // Unconfined, the agent needs no line of its own.
  assert(!defaultProfileText("p", inputs).includes('peer="unconfined"'));
});

Deno.test("defaultProfile() names the profile after a digest of its text", async () => {
  const a = await defaultProfile(inputs);
  assert(new RegExp(`^${DEFAULT_PROFILE_PREFIX}[0-9a-f]{12}$`).test(a.name), a.name);
  assertEquals(a.text, defaultProfileText(a.name, inputs));
  assertEquals((await defaultProfile({ ...inputs })).name, a.name);
  const b = await defaultProfile({ ...inputs, abstractionsBase: false });
  assert(b.name !== a.name, "another text, another name");
});

Deno.test("parseProfileList() reads names from the kernel's list, spaces and hats included", () => {
  const names = parseProfileList(
    "sauropod-default-0a1b2c3d4e5f (enforce)\n/usr/bin/man (enforce)\nman_filter (complain)\n" +
      "odd name (enforce)\nparent//hat (enforce)\n",
  );
  assertEquals(
    [...names],
    ["sauropod-default-0a1b2c3d4e5f", "/usr/bin/man", "man_filter", "odd name", "parent//hat"],
  );
  assertEquals(parseProfileList("").size, 0);
});
