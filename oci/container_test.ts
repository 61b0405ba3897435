import {
  MountPropagation,
  NamespaceMode,
  SecurityProfile_ProfileType as ProfileType,
  SupplementalGroupsPolicy,
} from "../api/gen/api.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import * as A from "./annotations.ts";
import { DEFAULT_CAPABILITIES, KNOWN_CAPABILITIES } from "./capabilities.ts";
import { buildContainerSpec } from "./container.ts";
import { defaultDeviceRules } from "./devices.ts";
import { DEFAULT_PATH } from "./process.ts";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from "./_security.ts";
import type { Spec } from "./spec.ts";
import {
  assertFails,
  containerConfig,
  containerInputs,
  GROUP,
  kv,
  PASSWD,
  sandboxConfig,
} from "./_test_fixtures.ts";

const SC = "container.linux.security_context";

Deno.test("buildContainerSpec() of a minimal config is containerd's default container", () => {
  const spec = buildContainerSpec(containerInputs());
  assertEquals(spec.ociVersion, "1.0.2");
  assertEquals(spec.process, {
    terminal: false,
    user: { uid: 0, gid: 0, additionalGids: [0] },
    args: ["sh"],
    env: [DEFAULT_PATH, "HOSTNAME=pod-host"],
    cwd: "/",
    capabilities: {
      bounding: [...DEFAULT_CAPABILITIES],
      effective: [...DEFAULT_CAPABILITIES],
      permitted: [...DEFAULT_CAPABILITIES],
    },
    noNewPrivileges: false,
  });
  assertEquals(spec.root, { path: "/var/lib/sauropod/containers/c0ffee/rootfs", readonly: false });
  assertEquals(spec.linux?.cgroupsPath, "/kubepods/pod0b5f/c0ffee");
  assertEquals(spec.linux?.resources, { devices: defaultDeviceRules() });
  assertEquals(spec.linux?.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assertEquals(spec.linux?.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  assertEquals(spec.linux?.seccomp, undefined);
  assertEquals(spec.linux?.devices, []);
  assertEquals(spec.linux?.sysctl, undefined);
  assertEquals(spec.process?.oomScoreAdj, undefined);
  // The spec is plain JSON: no bigint, nothing JSON would drop silently.
  assertEquals(JSON.parse(JSON.stringify(spec)), spec);
});

Deno.test("buildContainerSpec() joins the pod's namespaces and makes its own mount namespace", () => {
  const spec = buildContainerSpec(containerInputs());
  assertEquals(spec.linux?.namespaces, [
    { type: "pid" },
    { type: "ipc", path: "/run/sauropod/ipcns/5a4d" },
    { type: "uts", path: "/run/sauropod/utsns/5a4d" },
    { type: "mount" },
    { type: "network", path: "/run/sauropod/netns/5a4d" },
  ]);
});

Deno.test("buildContainerSpec() shares host namespaces by leaving them out", () => {
  const spec = buildContainerSpec(containerInputs({
    namespaces: { network: "host", ipc: "host", uts: "host", pid: "host" },
    podMounts: {},
  }));
  assertEquals(spec.linux?.namespaces, [{ type: "mount" }]);
});

Deno.test("buildContainerSpec() joins the sandbox's PID namespace by path", () => {
  const spec = buildContainerSpec(containerInputs({
    namespaces: { network: "host", ipc: "host", uts: "host", pid: "/proc/4242/ns/pid" },
  }));
  assertEquals(spec.linux?.namespaces?.[0], { type: "pid", path: "/proc/4242/ns/pid" });
});

Deno.test("buildContainerSpec() adds a cgroup namespace on cgroup v2 unless privileged", () => {
  const v2 = { arch: "x86_64", cgroupVersion: 2 as const };
  assertEquals(
    buildContainerSpec(containerInputs({ node: v2 })).linux?.namespaces?.at(-1),
    { type: "cgroup" },
  );
  const privileged = buildContainerSpec(containerInputs({
    node: v2,
    config: containerConfig({ linux: { securityContext: { privileged: true } } }),
    sandboxConfig: sandboxConfig({ linux: { securityContext: { privileged: true } } }),
  }));
  assertEquals(privileged.linux?.namespaces?.some((n) => n.type === "cgroup"), false);
});

Deno.test("buildContainerSpec() merges command and args with the image as Docker does", () => {
  const image = { user: "", env: [], entrypoint: ["/ep-1"], cmd: ["foo", "bar"], workingDir: "" };
  const args = (command: string[], args: string[]) =>
    buildContainerSpec(containerInputs({ image, config: containerConfig({ command, args }) }))
      .process?.args;
  assertEquals(args([], []), ["/ep-1", "foo", "bar"]);
  assertEquals(args(["/ep-2"], []), ["/ep-2"]);
  assertEquals(args([], ["zoo", "boo"]), ["/ep-1", "zoo", "boo"]);
  assertEquals(args(["/ep-2"], ["zoo", "boo"]), ["/ep-2", "zoo", "boo"]);
  assertFails(
    () =>
      buildContainerSpec(containerInputs({
        image: { ...image, entrypoint: [], cmd: [] },
      })),
    "invalid-argument",
    "container.command: no command specified",
  );
});

Deno.test("buildContainerSpec() puts image env before config env, later names winning", () => {
  const spec = buildContainerSpec(containerInputs({
    image: {
      user: "",
      env: ["PATH=/opt/bin:/bin", "LANG=C", "HOSTNAME=image", "MODE=image"],
      entrypoint: [],
      cmd: ["sh"],
      workingDir: "",
    },
    config: containerConfig({ envs: [kv("MODE", "config"), kv("EXTRA", "a=b"), kv("LANG", "")] }),
  }));
  assertEquals(spec.process?.env, [
    "PATH=/opt/bin:/bin",
    "HOSTNAME=image",
    "LANG=",
    "MODE=config",
    "EXTRA=a=b",
  ]);
});

Deno.test("buildContainerSpec() sets TERM for a tty and PATH when nobody does", () => {
  const spec = buildContainerSpec(containerInputs({ config: containerConfig({ tty: true }) }));
  assertEquals(spec.process?.terminal, true);
  assertEquals(spec.process?.env, [DEFAULT_PATH, "TERM=xterm", "HOSTNAME=pod-host"]);
});

Deno.test("buildContainerSpec() writes non-UTF-8 env bytes as U+FFFD and refuses bad names", () => {
  const spec = buildContainerSpec(containerInputs({
    config: containerConfig({ envs: [{ key: "L1", value: new Uint8Array([0x63, 0xe9]) }] }),
  }));
  assertEquals(spec.process?.env?.at(-1), "L1=c\ufffd");
  assertFails(
    () =>
      buildContainerSpec(
        containerInputs({ config: containerConfig({ envs: [kv("A", "1"), kv("", "x")] }) }),
      ),
    "invalid-argument",
    "container.envs[1].key: empty environment variable name",
  );
});

Deno.test("buildContainerSpec() takes the working dir from the config, then the image, then /", () => {
  const cwd = (config: string, image: string) =>
    buildContainerSpec(containerInputs({
      image: { user: "", env: [], entrypoint: [], cmd: ["sh"], workingDir: image },
      config: containerConfig({ workingDir: config }),
    })).process?.cwd;
  assertEquals(cwd("/work", "/app"), "/work");
  assertEquals(cwd("", "/app"), "/app");
  assertEquals(cwd("", ""), "/");
  assertFails(() => cwd("rel", ""), "invalid-argument", 'container.working_dir: "rel"');
  assertFails(() => cwd("", "app"), "invalid-argument", 'image config WorkingDir: "app"');
});

Deno.test("buildContainerSpec() runs as the image USER resolved in the rootfs", () => {
  const spec = buildContainerSpec(containerInputs({
    image: { user: "app", env: [], entrypoint: [], cmd: ["sh"], workingDir: "" },
    passwd: PASSWD,
    group: GROUP,
  }));
  assertEquals(spec.process?.user, { uid: 1000, gid: 1000, additionalGids: [44, 1000, 2000] });
});

Deno.test("buildContainerSpec() prefers run_as_username over run_as_user over the image USER", () => {
  const user = (sc: Record<string, unknown>, imageUser = "web") =>
    buildContainerSpec(containerInputs({
      image: { user: imageUser, env: [], entrypoint: [], cmd: ["sh"], workingDir: "" },
      passwd: PASSWD,
      group: GROUP,
      config: containerConfig({ linux: { securityContext: sc } }),
    })).process?.user;
  assertEquals(user({ runAsUser: { value: 1000n }, runAsUsername: "web" })?.uid, 33);
  assertEquals(user({ runAsUser: { value: 1000n } })?.uid, 1000);
  assertEquals(user({ runAsUser: { value: 7n }, runAsGroup: { value: 8n } }), {
    uid: 7,
    gid: 8,
    additionalGids: [8],
  });
  assertEquals(user({})?.uid, 33);
});

Deno.test("buildContainerSpec() refuses run_as_group alone and unknown names, naming the field", () => {
  const build = (sc: Record<string, unknown>) =>
    buildContainerSpec(containerInputs({
      passwd: PASSWD,
      config: containerConfig({ linux: { securityContext: sc } }),
    }));
  assertFails(
    () => build({ runAsGroup: { value: 5n } }),
    "invalid-argument",
    `${SC}.run_as_group: set without run_as_user or run_as_username`,
  );
  assertFails(
    () => build({ runAsUsername: "ghost" }),
    "invalid-argument",
    `${SC}.run_as_username: user "ghost" not found`,
  );
  assertFails(
    () => build({ runAsUser: { value: -1n } }),
    "invalid-argument",
    `${SC}.run_as_user: -1 is outside`,
  );
  assertFails(
    () => build({ runAsUser: { value: 1n }, supplementalGroups: [1n, -5n] }),
    "invalid-argument",
    `${SC}.supplemental_groups[1]`,
  );
});

Deno.test("buildContainerSpec() applies the supplemental groups policy", () => {
  const groups = (policy: SupplementalGroupsPolicy) =>
    buildContainerSpec(containerInputs({
      passwd: PASSWD,
      group: GROUP,
      config: containerConfig({
        linux: {
          securityContext: {
            runAsUser: { value: 1000n },
            supplementalGroups: [3000n],
            supplementalGroupsPolicy: policy,
          },
        },
      }),
    })).process?.user.additionalGids;
  assertEquals(groups(SupplementalGroupsPolicy.Merge), [44, 1000, 2000, 3000]);
  assertEquals(groups(SupplementalGroupsPolicy.Strict), [1000, 3000]);
  assertFails(
    () => groups(SupplementalGroupsPolicy.UNRECOGNIZED),
    "invalid-argument",
    `${SC}.supplemental_groups_policy: unknown policy -1`,
  );
});

Deno.test("buildContainerSpec() applies capabilities add and drop", () => {
  const spec = buildContainerSpec(containerInputs({
    config: containerConfig({
      linux: {
        securityContext: {
          capabilities: { addCapabilities: ["NET_ADMIN"], dropCapabilities: ["ALL"] },
        },
      },
    }),
  }));
  assertEquals(spec.process?.capabilities?.bounding, ["CAP_NET_ADMIN"]);
  assertFails(
    () =>
      buildContainerSpec(containerInputs({
        config: containerConfig({
          linux: { securityContext: { capabilities: { addCapabilities: ["CHOWN", "CAP_FOO"] } } },
        }),
      })),
    "invalid-argument",
    `${SC}.capabilities.add_capabilities[1]: unknown capability "CAP_FOO"`,
  );
});

Deno.test("buildContainerSpec() of a privileged container lifts the restrictions", () => {
  const agent = KNOWN_CAPABILITIES.filter((c) => c !== "CAP_SYS_RESOURCE");
  const spec = buildContainerSpec(containerInputs({
    agentCapabilities: agent,
    hostDevices: [{
      path: "/dev/kmsg",
      type: "c",
      major: 1,
      minor: 11,
      fileMode: 0o644,
      uid: 0,
      gid: 0,
    }],
    config: containerConfig({
      linux: {
        securityContext: {
          privileged: true,
          maskedPaths: ["/proc/kcore"],
          seccomp: { profileType: ProfileType.RuntimeDefault },
        },
      },
    }),
    sandboxConfig: sandboxConfig({ linux: { securityContext: { privileged: true } } }),
  }));
  assertEquals(spec.process?.capabilities?.bounding, agent);
  assertEquals(spec.linux?.maskedPaths, undefined);
  assertEquals(spec.linux?.readonlyPaths, undefined);
  assertEquals(spec.linux?.seccomp, undefined);
  assertEquals(spec.linux?.resources?.devices, [{ allow: true, access: "rwm" }]);
  assertEquals(spec.linux?.devices?.map((d) => d.path), ["/dev/kmsg"]);
  assertEquals(spec.mounts?.find((m) => m.destination === "/sys")?.options?.at(-1), "rw");
});

Deno.test("buildContainerSpec() refuses a privileged container in an unprivileged pod", () => {
  assertFails(
    () =>
      buildContainerSpec(containerInputs({
        config: containerConfig({ linux: { securityContext: { privileged: true } } }),
      })),
    "invalid-argument",
    `${SC}.privileged: the pod sandbox is not privileged`,
  );
});

Deno.test("buildContainerSpec() takes masked and read-only paths from the security context", () => {
  const paths = (sc: Record<string, unknown>) =>
    buildContainerSpec(
      containerInputs({ config: containerConfig({ linux: { securityContext: sc } }) }),
    )
      .linux;
  const given = paths({
    maskedPaths: ["/proc/kcore", "/sys/firmware"],
    readonlyPaths: ["/proc/sys"],
  });
  assertEquals(given?.maskedPaths, ["/proc/kcore", "/sys/firmware"]);
  assertEquals(given?.readonlyPaths, ["/proc/sys"]);
  // A security context with empty lists asks for none (the kubelet's procMount: Unmasked).
  const none = paths({ runAsUser: { value: 0n } });
  assertEquals(none?.maskedPaths, []);
  assertEquals(none?.readonlyPaths, []);
  assertFails(
    () => paths({ maskedPaths: ["proc/kcore"] }),
    "invalid-argument",
    `${SC}.masked_paths[0]: "proc/kcore"`,
  );
});

Deno.test("buildContainerSpec() sets no_new_privileges and a read-only rootfs when asked", () => {
  const spec = buildContainerSpec(containerInputs({
    config: containerConfig({
      linux: { securityContext: { noNewPrivs: true, readonlyRootfs: true } },
    }),
  }));
  assertEquals(spec.process?.noNewPrivileges, true);
  assertEquals(spec.root?.readonly, true);
  assertEquals(spec.mounts?.find((m) => m.destination === "/etc/hosts")?.options, [
    "rbind",
    "rprivate",
    "ro",
  ]);
});

Deno.test("buildContainerSpec() applies the RuntimeDefault seccomp profile after the capabilities", () => {
  const spec = buildContainerSpec(containerInputs({
    config: containerConfig({
      linux: {
        securityContext: {
          seccomp: { profileType: ProfileType.RuntimeDefault },
          capabilities: { addCapabilities: ["SYS_ADMIN"] },
        },
      },
    }),
  }));
  const names = spec.linux?.seccomp?.syscalls?.flatMap((s) => s.names) ?? [];
  assert(names.includes("mount"), "SYS_ADMIN unlocks mount");
  assertEquals(spec.linux?.seccomp?.architectures?.[0], "SCMP_ARCH_X86_64");
});

Deno.test("buildContainerSpec() uses the Localhost seccomp profile the runtime read", () => {
  const spec = buildContainerSpec(containerInputs({
    localhostSeccompProfile: '{"defaultAction":"SCMP_ACT_LOG"}',
    config: containerConfig({
      linux: {
        securityContext: {
          seccomp: {
            profileType: ProfileType.Localhost,
            localhostRef: "/var/lib/kubelet/seccomp/a.json",
          },
        },
      },
    }),
  }));
  assertEquals(spec.linux?.seccomp, { defaultAction: "SCMP_ACT_LOG" });
});

Deno.test("buildContainerSpec() runs under the AppArmor profile the runtime resolved", () => {
  const spec = buildContainerSpec(containerInputs({ apparmorProfile: "k8s-nginx" }));
  assertEquals(spec.process?.apparmorProfile, "k8s-nginx");
  assertEquals(buildContainerSpec(containerInputs()).process?.apparmorProfile, undefined);
});

Deno.test("buildContainerSpec() ignores SELinux options without SELinux and refuses them with it", () => {
  const selinux = {
    config: containerConfig({
      linux: {
        securityContext: {
          selinuxOptions: {
            user: "system_u",
            role: "system_r",
            type: "container_t",
            level: "s0:c1,c2",
          },
        },
      },
      mounts: [{
        containerPath: "/data",
        hostPath: "/srv/data",
        readonly: false,
        selinuxRelabel: true,
        propagation: MountPropagation.PROPAGATION_PRIVATE,
        uidMappings: [],
        gidMappings: [],
        recursiveReadOnly: false,
        imageSubPath: "",
        mountOptions: [],
      }],
    }),
    hostPaths: { "/srv/data": { kind: "directory" as const, realPath: "/srv/data" } },
  };
  const spec = buildContainerSpec(containerInputs(selinux));
  assertEquals(spec.process?.selinuxLabel, undefined);
  assertEquals(spec.linux?.mountLabel, undefined);
  assertFails(
    () => buildContainerSpec(containerInputs({ ...selinux, node: { selinux: true } })),
    "failed-precondition",
    `${SC}.selinux_options: sauropod does not apply SELinux labels, and SELinux is enabled`,
  );
  const relabelOnly = containerInputs({ ...selinux, node: { selinux: true } });
  relabelOnly.config.linux = {};
  assertFails(
    () => buildContainerSpec(relabelOnly),
    "failed-precondition",
    "container.mounts[0].selinux_relabel: sauropod does not apply SELinux labels",
  );
});

Deno.test("buildContainerSpec() passes pod and container annotations only through the allowlist", () => {
  const inputs = containerInputs({
    sandboxConfig: sandboxConfig({
      annotations: { "io.katacontainers.config.x": "1", "org.systemd.property.CPUQuota": "1%" },
    }),
    config: containerConfig({
      annotations: {
        "example.com/owner": "team-a",
        "run.oci.keep_original_groups": "1",
        [A.CONTAINER_TYPE]: "sandbox",
      },
    }),
  });
  const crisOwn = {
    [A.SANDBOX_ID]: "5a4d",
    [A.SANDBOX_NAMESPACE]: "default",
    [A.SANDBOX_UID]: "0b5f-uid",
    [A.SANDBOX_NAME]: "pod",
    [A.CONTAINER_TYPE]: "container",
    [A.CONTAINER_NAME]: "app",
    [A.IMAGE_NAME]: "docker.io/library/busybox:1.36",
  };
  assertEquals(buildContainerSpec(inputs).annotations, crisOwn);
  const allowed = buildContainerSpec({
    ...inputs,
    annotationAllowlist: { pod: ["io.katacontainers.*"], container: ["example.com/*", "io.*"] },
  });
  assertEquals(allowed.annotations, {
    "io.katacontainers.config.x": "1",
    "example.com/owner": "team-a",
    ...crisOwn,
  });
});

Deno.test("buildContainerSpec() annotates as containerd, over any user annotation of the same key", () => {
  const spec = buildContainerSpec(containerInputs({
    annotationAllowlist: { pod: [], container: ["*"] },
    config: containerConfig({
      annotations: { "team": "a", [A.SANDBOX_ID]: "spoofed" },
      image: { image: "sha256:abc", userSpecifiedImage: "busybox:1.36" },
    }),
  }));
  assertEquals(spec.annotations, {
    team: "a",
    [A.SANDBOX_ID]: "5a4d",
    [A.SANDBOX_NAMESPACE]: "default",
    [A.SANDBOX_UID]: "0b5f-uid",
    [A.SANDBOX_NAME]: "pod",
    [A.CONTAINER_TYPE]: "container",
    [A.CONTAINER_NAME]: "app",
    [A.IMAGE_NAME]: "busybox:1.36",
  });
  assertEquals(
    buildContainerSpec(containerInputs({ imageName: "docker.io/library/busybox:1.36" }))
      .annotations?.[A.IMAGE_NAME],
    "docker.io/library/busybox:1.36",
  );
});

Deno.test("buildContainerSpec() maps resources and clamps oom_score_adj when restricted", () => {
  const spec = buildContainerSpec(containerInputs({
    oomScoreAdj: { restrict: true, agentScore: 0 },
    node: { arch: "x86_64", swapAccounting: true },
    config: containerConfig({
      linux: {
        resources: {
          cpuShares: 256n,
          cpuQuota: 20000n,
          cpuPeriod: 100000n,
          memoryLimitInBytes: 67108864n,
          oomScoreAdj: -997n,
        },
      },
    }),
  }));
  assertEquals(spec.process?.oomScoreAdj, 0);
  assertEquals(spec.linux?.resources?.cpu, { shares: 256, quota: 20000, period: 100000 });
  assertEquals(spec.linux?.resources?.memory, { limit: 67108864, swap: 67108864 });
  assertEquals(spec.linux?.resources?.devices, defaultDeviceRules());
  const unrestricted = buildContainerSpec(containerInputs({
    config: containerConfig({ linux: { resources: { oomScoreAdj: 999n } } }),
  }));
  assertEquals(unrestricted.process?.oomScoreAdj, 999);
});

Deno.test("buildContainerSpec() mounts CRI volumes with their propagation and the pod files", () => {
  const spec = buildContainerSpec(containerInputs({
    hostPaths: { "/srv/cache": { kind: "directory", realPath: "/srv/cache" } },
    config: containerConfig({
      mounts: [{
        containerPath: "/cache",
        hostPath: "/srv/cache",
        readonly: true,
        propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
      }],
    }),
  }));
  assertEquals(spec.mounts?.find((m) => m.destination === "/cache"), {
    destination: "/cache",
    type: "bind",
    source: "/srv/cache",
    options: ["rbind", "rslave", "ro"],
  });
  assertEquals(spec.linux?.rootfsPropagation, "rslave");
  assertEquals(
    spec.mounts?.find((m) => m.destination === "/etc/resolv.conf")?.source,
    "/run/sauropod/pods/5a4d/resolv.conf",
  );
});

Deno.test("buildContainerSpec() gives devices and their cgroup rules", () => {
  const spec = buildContainerSpec(containerInputs({
    hostPaths: {
      "/dev/fuse": {
        kind: "device",
        realPath: "/dev/fuse",
        device: { type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      },
    },
    config: containerConfig({
      devices: [{ hostPath: "/dev/fuse", containerPath: "/dev/fuse", permissions: "rwm" }],
    }),
  }));
  assertEquals(spec.linux?.devices?.map((d) => `${d.path} ${d.type} ${d.major}:${d.minor}`), [
    "/dev/fuse c 10:229",
  ]);
  assertEquals(spec.linux?.resources?.devices?.at(-1), {
    allow: true,
    type: "c",
    major: 10,
    minor: 229,
    access: "rwm",
  });
});

Deno.test("buildContainerSpec() writes the pod's sysctls into the namespaces it joins", () => {
  const withSysctls = (sysctls: Record<string, string>, network = "/run/netns/x") =>
    buildContainerSpec(containerInputs({
      sandboxConfig: sandboxConfig({ linux: { sysctls } }),
      namespaces: { network, ipc: "/run/ipc/x", uts: "/run/uts/x", pid: "new" },
    }));
  assertEquals(withSysctls({ "net.ipv4.ip_unprivileged_port_start": "0" }).linux?.sysctl, {
    "net.ipv4.ip_unprivileged_port_start": "0",
  });
  assertFails(
    () => withSysctls({ "net.core.somaxconn": "1024" }, "host"),
    "invalid-argument",
    'sandbox.linux.sysctls["net.core.somaxconn"]: not allowed when the pod shares the node\'s network namespace',
  );
});

Deno.test("buildContainerSpec() refuses user namespaces and configs without a name", () => {
  assertFails(
    () =>
      buildContainerSpec(containerInputs({
        config: containerConfig({
          linux: {
            securityContext: {
              namespaceOptions: { usernsOptions: { mode: NamespaceMode.POD } },
            },
          },
        }),
      })),
    "failed-precondition",
    "userns_options: mode POD, but the pod sandbox has no user namespace",
  );
  // With the pod's user namespace, the container joins it with the pod's mapping.
  const spec = buildContainerSpec(containerInputs({
    config: containerConfig({
      linux: {
        securityContext: { namespaceOptions: { usernsOptions: { mode: NamespaceMode.POD } } },
      },
    }),
    userns: { path: "/run/s/ns/p/user", hostId: 65536, length: 65536 },
  }));
  assertEquals(spec.linux?.namespaces?.find((n) => n.type === "user"), {
    type: "user",
    path: "/run/s/ns/p/user",
  });
  assertEquals(spec.linux?.uidMappings, [{ containerID: 0, hostID: 65536, size: 65536 }]);
  assertEquals(spec.linux?.gidMappings, [{ containerID: 0, hostID: 65536, size: 65536 }]);
  // NODE is the host's user namespace: nothing to do.
  buildContainerSpec(containerInputs({
    config: containerConfig({
      linux: {
        securityContext: { namespaceOptions: { usernsOptions: { mode: NamespaceMode.NODE } } },
      },
    }),
  }));
  assertFails(
    () =>
      buildContainerSpec(containerInputs({ config: containerConfig({ metadata: { name: "" } }) })),
    "invalid-argument",
    "container.metadata.name: missing",
  );
  assertFails(
    () =>
      buildContainerSpec(
        containerInputs({ sandboxConfig: { ...sandboxConfig(), metadata: undefined } }),
      ),
    "invalid-argument",
    "sandbox.metadata: missing",
  );
});

Deno.test("buildContainerSpec() is deterministic", () => {
  const a: Spec = buildContainerSpec(containerInputs({ passwd: PASSWD, group: GROUP }));
  const b: Spec = buildContainerSpec(containerInputs({ passwd: PASSWD, group: GROUP }));
  assertEquals(JSON.stringify(a), JSON.stringify(b));
});
