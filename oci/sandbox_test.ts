import { NamespaceMode, SecurityProfile_ProfileType as ProfileType } from "../api/gen/api.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import * as A from "./annotations.ts";
import { defaultDeviceRules } from "./devices.ts";
import { DEFAULT_PATH } from "./process.ts";
import { buildSandboxSpec, SANDBOX_OOM_SCORE_ADJ } from "./sandbox.ts";
import { DEFAULT_MASKED_PATHS } from "./_security.ts";
import { assertFails, GROUP, PASSWD, sandboxConfig, sandboxInputs } from "./_test_fixtures.ts";

Deno.test("buildSandboxSpec() runs the image's init as PID 1 of a new PID namespace", () => {
  const spec = buildSandboxSpec(sandboxInputs());
  assertEquals(spec.process?.args, ["/usr/bin/catatonit", "-P"]);
  assertEquals(spec.process?.env, [DEFAULT_PATH]);
  assertEquals(spec.process?.cwd, "/");
  assertEquals(spec.process?.terminal, false);
  assertEquals(spec.linux?.namespaces, [
    { type: "pid" },
    { type: "ipc", path: "/run/sauropod/ipcns/5a4d" },
    { type: "uts", path: "/run/sauropod/utsns/5a4d" },
    { type: "mount" },
    { type: "network", path: "/run/sauropod/netns/5a4d" },
  ]);
  // The UTS namespace is the pod's pinned one: its hostname is already set there.
  assertEquals(spec.hostname, undefined);
  assertEquals(JSON.parse(JSON.stringify(spec)), spec);
});

Deno.test("buildSandboxSpec() locks the sandbox down: read-only root, no capabilities, no new privileges", () => {
  const spec = buildSandboxSpec(sandboxInputs());
  assertEquals(spec.root, { path: "/var/lib/sauropod/containers/5a4d/rootfs", readonly: true });
  assertEquals(spec.process?.capabilities, { bounding: [], effective: [], permitted: [] });
  assertEquals(spec.process?.noNewPrivileges, true);
  assertEquals(spec.process?.user, { uid: 0, gid: 0, additionalGids: [0] });
  assertEquals(spec.linux?.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assertEquals(spec.linux?.resources, { cpu: { shares: 2 }, devices: defaultDeviceRules() });
  assertEquals(spec.linux?.cgroupsPath, "/kubepods/pod0b5f/5a4d");
});

Deno.test("buildSandboxSpec() asks for oom_score_adj -998, clamped when restricted", () => {
  assertEquals(buildSandboxSpec(sandboxInputs()).process?.oomScoreAdj, SANDBOX_OOM_SCORE_ADJ);
  const clamped = buildSandboxSpec(
    sandboxInputs({ oomScoreAdj: { restrict: true, agentScore: -500 } }),
  );
  assertEquals(clamped.process?.oomScoreAdj, -500);
});

Deno.test("buildSandboxSpec() binds the pod's /dev/shm and resolv.conf read-only", () => {
  const spec = buildSandboxSpec(sandboxInputs());
  const shm = spec.mounts?.filter((m) => m.destination === "/dev/shm");
  assertEquals(shm, [{
    destination: "/dev/shm",
    type: "bind",
    source: "/run/sauropod/pods/5a4d/shm",
    options: ["rbind", "ro", "nosuid", "nodev", "noexec"],
  }]);
  assertEquals(spec.mounts?.find((m) => m.destination === "/etc/resolv.conf")?.options?.[1], "ro");
  const bare = buildSandboxSpec(sandboxInputs({ podMounts: {} }));
  assertEquals(bare.mounts?.find((m) => m.destination === "/dev/shm")?.type, "tmpfs");
});

Deno.test("buildSandboxSpec() shares host namespaces by leaving them out", () => {
  const spec = buildSandboxSpec(
    sandboxInputs({ namespaces: { network: "host", ipc: "host", uts: "host" } }),
  );
  assertEquals(spec.linux?.namespaces, [{ type: "pid" }, { type: "mount" }]);
});

Deno.test("buildSandboxSpec() runs as the pod's run_as_user, else the image USER", () => {
  const spec = buildSandboxSpec(sandboxInputs({
    config: sandboxConfig({
      linux: {
        securityContext: {
          runAsUser: { value: 65535n },
          runAsGroup: { value: 65535n },
          supplementalGroups: [5n],
        },
      },
    }),
  }));
  assertEquals(spec.process?.user, { uid: 65535, gid: 65535, additionalGids: [5, 65535] });
  const image = buildSandboxSpec(sandboxInputs({
    image: { user: "web", env: ["A=1"], entrypoint: ["/pause"], cmd: [], workingDir: "/w" },
    passwd: PASSWD,
    group: GROUP,
  }));
  assertEquals(image.process?.user, { uid: 33, gid: 33, additionalGids: [33] });
  assertEquals(image.process?.env, [DEFAULT_PATH, "A=1"]);
  assertEquals(image.process?.cwd, "/w");
  assertFails(
    () =>
      buildSandboxSpec(sandboxInputs({
        config: sandboxConfig({ linux: { securityContext: { runAsGroup: { value: 1n } } } }),
      })),
    "invalid-argument",
    "sandbox.linux.security_context.run_as_group: set without run_as_user",
  );
});

Deno.test("buildSandboxSpec() refuses an image with nothing to run", () => {
  assertFails(
    () =>
      buildSandboxSpec(
        sandboxInputs({ image: { user: "", env: [], entrypoint: [], cmd: [], workingDir: "" } }),
      ),
    "invalid-argument",
    'sandbox image "registry.k8s.io/pause:3.10": no entrypoint and no cmd',
  );
});

Deno.test("buildSandboxSpec() carries the pod's sysctls and overhead, and records its resources", () => {
  const spec = buildSandboxSpec(sandboxInputs({
    annotationAllowlist: { pod: ["owner"], container: [] },
    config: sandboxConfig({
      annotations: { owner: "team-a", "run.oci.seccomp_bpf_data": "AAAA" },
      linux: {
        sysctls: { "kernel.shm_rmid_forced": "1" },
        overhead: { memoryLimitInBytes: 16777216n, cpuShares: 8n },
        resources: {
          cpuPeriod: 100000n,
          cpuQuota: 150000n,
          cpuShares: 1536n,
          memoryLimitInBytes: 1073741824n,
        },
      },
    }),
  }));
  assertEquals(spec.linux?.sysctl, { "kernel.shm_rmid_forced": "1" });
  assertEquals(spec.linux?.resources?.cpu, { shares: 8 });
  assertEquals(spec.linux?.resources?.memory, { limit: 16777216 });
  assertEquals(spec.annotations, {
    owner: "team-a",
    [A.SANDBOX_ID]: "5a4d",
    [A.SANDBOX_NAMESPACE]: "default",
    [A.SANDBOX_UID]: "0b5f-uid",
    [A.SANDBOX_NAME]: "pod",
    [A.CONTAINER_TYPE]: "sandbox",
    [A.SANDBOX_LOG_DIRECTORY]: "/var/log/pods/default_pod_0b5f-uid",
    [A.SANDBOX_IMAGE_NAME]: "registry.k8s.io/pause:3.10",
    [A.SANDBOX_CPU_PERIOD]: "100000",
    [A.SANDBOX_CPU_QUOTA]: "150000",
    [A.SANDBOX_CPU_SHARES]: "1536",
    [A.SANDBOX_MEMORY]: "1073741824",
  });
});

Deno.test("buildSandboxSpec() applies the pod's seccomp profile, with no capabilities to unlock", () => {
  const spec = buildSandboxSpec(sandboxInputs({
    config: sandboxConfig({
      linux: { securityContext: { seccomp: { profileType: ProfileType.RuntimeDefault } } },
    }),
  }));
  const names = spec.linux?.seccomp?.syscalls?.flatMap((s) => s.names) ?? [];
  assert(names.includes("wait4"), "the reaper must be able to wait");
  assert(!names.includes("chroot"), "no CAP_SYS_CHROOT, no chroot");
});

Deno.test("buildSandboxSpec() of a privileged pod drops masked paths and seccomp", () => {
  const spec = buildSandboxSpec(sandboxInputs({
    config: sandboxConfig({
      linux: {
        securityContext: { privileged: true, seccomp: { profileType: ProfileType.RuntimeDefault } },
      },
    }),
  }));
  assertEquals(spec.linux?.maskedPaths, undefined);
  assertEquals(spec.linux?.seccomp, undefined);
});

Deno.test("buildSandboxSpec() refuses user namespaces and host-namespace sysctls", () => {
  assertFails(
    () =>
      buildSandboxSpec(sandboxInputs({
        config: sandboxConfig({
          linux: {
            securityContext: { namespaceOptions: { usernsOptions: { mode: NamespaceMode.POD } } },
          },
        }),
      })),
    "unimplemented",
    "user namespaces",
  );
  assertFails(
    () =>
      buildSandboxSpec(sandboxInputs({
        namespaces: { network: "/n", ipc: "host", uts: "/u" },
        config: sandboxConfig({ linux: { sysctls: { "kernel.msgmax": "65536" } } }),
      })),
    "invalid-argument",
    "node's ipc namespace",
  );
});

Deno.test("buildSandboxSpec() leaves pod annotations out unless allowed", () => {
  const spec = buildSandboxSpec(sandboxInputs({
    config: sandboxConfig({ annotations: { "org.systemd.property.CPUQuota": "1%" } }),
  }));
  assertEquals(
    Object.keys(spec.annotations ?? {}).filter((k) => !k.startsWith("io.kubernetes")),
    [],
  );
});

Deno.test("buildSandboxSpec() runs the pause process under the AppArmor profile resolved", () => {
  assertEquals(
    buildSandboxSpec(sandboxInputs({ apparmorProfile: "sauropod-default-0123456789ab" })).process
      ?.apparmorProfile,
    "sauropod-default-0123456789ab",
  );
  assertEquals(buildSandboxSpec(sandboxInputs()).process?.apparmorProfile, undefined);
});
