import { SecurityProfile_ProfileType as ProfileType } from "../api/gen/api.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { DEFAULT_CAPABILITIES } from "./capabilities.ts";
import {
  defaultSeccompProfile,
  localhostSeccompProfilePath,
  parseSeccompProfile,
  profileFromPath,
  seccompFor,
  type SeccompRequest,
} from "./seccomp.ts";
import type { LinuxSeccomp } from "./spec.ts";
import { assertFails } from "./_test_fixtures.ts";

const F = "container.linux.security_context";
const req = (over: Partial<SeccompRequest>): SeccompRequest => ({
  source: { seccompProfilePath: "" },
  privileged: false,
  bounding: DEFAULT_CAPABILITIES,
  arch: "x86_64",
  field: F,
  ...over,
});
const profile = (profileType: ProfileType, localhostRef = "") => ({
  seccomp: { profileType, localhostRef },
  seccompProfilePath: "",
});
const allowed = (p: LinuxSeccomp | undefined, name: string) =>
  p?.syscalls?.some((s) => s.action === "SCMP_ACT_ALLOW" && s.names.includes(name) && !s.args) ??
    false;

Deno.test("seccompFor() is unconfined when nothing is asked, Unconfined is asked, or privileged", () => {
  assertEquals(seccompFor(req({ source: undefined })), undefined);
  assertEquals(seccompFor(req({})), undefined);
  assertEquals(seccompFor(req({ source: profile(ProfileType.Unconfined) })), undefined);
  assertEquals(
    seccompFor(req({ source: profile(ProfileType.RuntimeDefault), privileged: true })),
    undefined,
  );
});

Deno.test("seccompFor() of RuntimeDefault is the default allowlist for the node's architecture", () => {
  const p = seccompFor(req({ source: profile(ProfileType.RuntimeDefault) }));
  assertEquals(p?.defaultAction, "SCMP_ACT_ERRNO");
  assertEquals(p?.defaultErrnoRet, undefined);
  assertEquals(p?.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  for (const name of ["read", "execve", "arch_prctl", "ptrace", "chroot"]) {
    assert(allowed(p, name), `${name} should be allowed`);
  }
  for (const name of ["mount", "unshare", "setns", "bpf", "reboot", "kexec_load", "keyctl"]) {
    assert(!allowed(p, name), `${name} should not be allowed`);
  }
});

Deno.test("defaultSeccompProfile() without CAP_SYS_ADMIN filters clone flags and answers clone3 with ENOSYS", () => {
  const p = defaultSeccompProfile(DEFAULT_CAPABILITIES, "x86_64");
  const clone = p.syscalls?.find((s) => s.names.includes("clone"));
  assertEquals(clone, {
    names: ["clone"],
    action: "SCMP_ACT_ALLOW",
    args: [{ index: 0, value: 2114060288, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
  });
  assertEquals(p.syscalls?.find((s) => s.names.includes("clone3")), {
    names: ["clone3"],
    action: "SCMP_ACT_ERRNO",
    errnoRet: 38,
  });
  // s390x passes clone flags second.
  const s390 = defaultSeccompProfile([], "s390x").syscalls?.find((s) => s.names[0] === "clone");
  assertEquals(s390?.args?.[0]?.index, 1);
});

Deno.test("defaultSeccompProfile() with CAP_SYS_ADMIN allows mount, namespaces and clone3", () => {
  const p = defaultSeccompProfile([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], "x86_64");
  for (const name of ["mount", "unshare", "setns", "clone", "clone3"]) {
    assert(allowed(p, name), `${name} should be allowed`);
  }
  assertEquals(p.syscalls?.some((s) => s.action === "SCMP_ACT_ERRNO"), false);
});

Deno.test("defaultSeccompProfile() unlocks syscalls per capability", () => {
  const p = defaultSeccompProfile(["CAP_SYS_TIME", "CAP_SYS_MODULE", "CAP_BPF"], "aarch64");
  for (const name of ["settimeofday", "clock_settime", "init_module", "bpf", "set_tls"]) {
    assert(allowed(p, name), `${name} should be allowed`);
  }
  assert(!allowed(p, "chroot"), "chroot needs CAP_SYS_CHROOT");
  assert(!allowed(p, "arch_prctl"), "arch_prctl is x86 only");
  assertEquals(p.architectures, ["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"]);
  assertEquals(defaultSeccompProfile([], "sparc").architectures, []);
});

Deno.test("defaultSeccompProfile() allows only the known personality personas", () => {
  const p = defaultSeccompProfile([], "x86_64");
  const personas = p.syscalls?.filter((s) => s.names[0] === "personality").map((s) =>
    s.args?.[0]?.value
  );
  assertEquals(personas, [0, 8, 0x20000, 0x20008, 0xffffffff]);
  // The profile is plain JSON for runc.
  assertEquals(JSON.parse(JSON.stringify(p)), p);
});

Deno.test("seccompFor() reads the deprecated seccomp_profile_path", () => {
  const viaPath = (path: string) =>
    seccompFor(
      req({
        source: { seccompProfilePath: path },
        localhostProfile: '{"defaultAction":"SCMP_ACT_LOG"}',
      }),
    );
  assertEquals(viaPath("runtime/default")?.defaultAction, "SCMP_ACT_ERRNO");
  assertEquals(viaPath("docker/default")?.defaultAction, "SCMP_ACT_ERRNO");
  assertEquals(viaPath("unconfined"), undefined);
  assertEquals(viaPath("localhost/profiles/audit.json"), { defaultAction: "SCMP_ACT_LOG" });
  assertFails(
    () => viaPath("bogus"),
    "invalid-argument",
    `${F}.seccomp_profile_path: invalid profile "bogus"`,
  );
  assertEquals(profileFromPath("", "f"), undefined);
});

Deno.test("seccompFor() of Localhost parses the profile text the runtime read", () => {
  const text = JSON.stringify({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: ["SCMP_ARCH_X86_64"],
    archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: [] }],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      {
        names: ["personality"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }],
        includes: {},
      },
      { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
    ],
  });
  const p = seccompFor(req({
    source: profile(ProfileType.Localhost, "/var/lib/kubelet/seccomp/x.json"),
    localhostProfile: text,
  }));
  assertEquals(p, {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [
      { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
      {
        names: ["personality"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }],
      },
      { names: ["mkdir"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
    ],
  });
});

Deno.test("seccompFor() of Localhost without the profile text is an internal error", () => {
  assertFails(
    () => seccompFor(req({ source: profile(ProfileType.Localhost, "/p.json") })),
    "internal",
    '"/p.json" was asked for but its text was not read',
  );
});

Deno.test("seccompFor() refuses a localhost_ref on a non-Localhost profile", () => {
  assertFails(
    () => seccompFor(req({ source: profile(ProfileType.RuntimeDefault, "/p.json") })),
    "invalid-argument",
    `${F}.seccomp.localhost_ref: set, but the profile type is not Localhost`,
  );
});

Deno.test("parseSeccompProfile() names what is wrong in a malformed profile", () => {
  const bad = (text: string, msg: string) =>
    assertFails(() => parseSeccompProfile(text, "ref"), "invalid-argument", msg);
  bad("{", "ref: not JSON");
  bad("[]", "ref: not a JSON object");
  bad('{"defaultAction":"SCMP_ACT_MAYBE"}', 'defaultAction: unknown action "SCMP_ACT_MAYBE"');
  bad(
    '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}',
    "syscalls[0].names: empty",
  );
  bad(
    '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":9,"value":0,"op":"SCMP_CMP_EQ"}]}]}',
    "syscalls[0].args[0].index",
  );
  bad(
    '{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"EQ"}]}]}',
    'syscalls[0].args[0].op: unknown operator "EQ"',
  );
  bad('{"defaultAction":"SCMP_ACT_ERRNO","architectures":"x86"}', "architectures: not a list");
});

Deno.test("localhostSeccompProfilePath() tells the runtime which file to read", () => {
  assertEquals(localhostSeccompProfilePath(undefined, F), undefined);
  assertEquals(localhostSeccompProfilePath(profile(ProfileType.RuntimeDefault), F), undefined);
  assertEquals(
    localhostSeccompProfilePath(profile(ProfileType.Localhost, "localhost//p/x.json"), F),
    "/p/x.json",
  );
  assertEquals(
    localhostSeccompProfilePath({ seccompProfilePath: "localhost//p/y.json" }, F),
    "/p/y.json",
  );
  assertFails(
    () => localhostSeccompProfilePath(profile(ProfileType.Localhost, ""), F),
    "invalid-argument",
    "localhost_ref: empty",
  );
});
