import { Mount as CriMount, MountPropagation } from "../api/gen/api.ts";
import { assertEquals } from "../testing/assert.ts";
import type { HostPaths } from "./host.ts";
import { containerMounts, type ContainerMountsRequest, defaultMounts } from "./mounts.ts";
import { assertFails, type DeepPartial } from "./_test_fixtures.ts";

const dir = (realPath: string, propagation?: "shared" | "slave" | "private") =>
  propagation === undefined
    ? { kind: "directory" as const, realPath }
    : { kind: "directory" as const, realPath, propagation };

const HOST: HostPaths = {
  "/srv/data": dir("/srv/data"),
  "/srv/link": dir("/mnt/real"),
  "/srv/shared": dir("/srv/shared", "shared"),
  "/srv/slave": dir("/srv/slave", "slave"),
  "/srv/private": dir("/srv/private", "private"),
  "/srv/hosts": { kind: "file", realPath: "/srv/hosts" },
};

const mount = (p: DeepPartial<CriMount>): CriMount => CriMount.fromPartial(p as CriMount);

function build(
  mounts: DeepPartial<CriMount>[],
  over: Partial<ContainerMountsRequest> = {},
) {
  return containerMounts({
    mounts: mounts.map(mount),
    podMounts: {
      hostname: "/pod/hostname",
      hosts: "/pod/hosts",
      resolvConf: "/pod/resolv.conf",
      shm: "/pod/shm",
    },
    hostPaths: HOST,
    privileged: false,
    readonlyRootfs: false,
    recursiveReadOnly: false,
    field: "container.mounts",
    ...over,
  });
}
const destinations = (r: ReturnType<typeof build>) => r.mounts.map((m) => m.destination);
const find = (r: ReturnType<typeof build>, dest: string) =>
  r.mounts.find((m) => m.destination === dest);

Deno.test("containerMounts() with no CRI mounts gives the defaults and the pod files", () => {
  const r = build([]);
  assertEquals(destinations(r), [
    "/proc",
    "/dev",
    "/sys",
    "/dev/pts",
    "/dev/mqueue",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/dev/shm",
    "/sys/fs/cgroup",
  ]);
  assertEquals(find(r, "/etc/hosts"), {
    destination: "/etc/hosts",
    type: "bind",
    source: "/pod/hosts",
    options: ["rbind", "rprivate", "rw"],
  });
  assertEquals(find(r, "/dev/shm")?.source, "/pod/shm");
  assertEquals(find(r, "/sys")?.options, ["nosuid", "noexec", "nodev", "ro"]);
  assertEquals(find(r, "/sys/fs/cgroup")?.options, ["nosuid", "noexec", "nodev", "relatime", "ro"]);
  assertEquals(r.rootfsPropagation, undefined);
});

Deno.test("containerMounts() keeps the default /dev/shm tmpfs when the pod has none", () => {
  const r = build([], { podMounts: {} });
  assertEquals(find(r, "/dev/shm"), defaultMounts(false).find((m) => m.destination === "/dev/shm"));
  assertEquals(find(r, "/etc/hosts"), undefined);
});

Deno.test("containerMounts() makes the pod files read-only with a read-only rootfs, not /dev/shm", () => {
  const r = build([], { readonlyRootfs: true });
  for (const d of ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]) {
    assertEquals(find(r, d)?.options, ["rbind", "rprivate", "ro"], d);
  }
  assertEquals(find(r, "/dev/shm")?.options, ["rbind", "rprivate", "rw"]);
});

Deno.test("containerMounts() binds the symlink-resolved host path with CRI options", () => {
  const r = build([
    { containerPath: "/data", hostPath: "/srv/link", readonly: true },
    { containerPath: "/rw/", hostPath: "/srv/data" },
  ]);
  assertEquals(find(r, "/data"), {
    destination: "/data",
    type: "bind",
    source: "/mnt/real",
    options: ["rbind", "rprivate", "ro"],
  });
  assertEquals(find(r, "/rw")?.options, ["rbind", "rprivate", "rw"]);
});

Deno.test("containerMounts() lets a CRI mount replace a pod file or a default mount", () => {
  const r = build([
    { containerPath: "/etc/hosts", hostPath: "/srv/hosts" },
    { containerPath: "/proc/../sys", hostPath: "/srv/data" },
  ]);
  const hosts = r.mounts.filter((m) => m.destination === "/etc/hosts");
  assertEquals(hosts.length, 1);
  assertEquals(hosts[0]?.source, "/srv/hosts");
  const sys = r.mounts.filter((m) => m.destination === "/sys");
  assertEquals(sys.map((m) => m.type), ["bind"]);
});

Deno.test("containerMounts() drops every default under /dev when a CRI mount provides /dev", () => {
  const r = build([{ containerPath: "/dev", hostPath: "/srv/data" }], { podMounts: {} });
  assertEquals(destinations(r).filter((d) => d.startsWith("/dev")), ["/dev"]);
  assertEquals(find(r, "/dev")?.type, "bind");
});

Deno.test("containerMounts() orders parents before children whatever the CRI order", () => {
  const r = build([
    { containerPath: "/data/a/b", hostPath: "/srv/data" },
    { containerPath: "/data", hostPath: "/srv/data" },
    { containerPath: "/data/a", hostPath: "/srv/data" },
    { containerPath: "/sys/fs", hostPath: "/srv/data" },
  ]);
  const d = destinations(r);
  const at = (p: string) => d.indexOf(p);
  assertEquals(at("/data") < at("/data/a") && at("/data/a") < at("/data/a/b"), true, d.join());
  assertEquals(at("/sys") < at("/sys/fs") && at("/sys/fs") < at("/sys/fs/cgroup"), true, d.join());
});

Deno.test("containerMounts() maps propagation and sets the root propagation it needs", () => {
  const slave = build([{
    containerPath: "/s",
    hostPath: "/srv/slave",
    propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
  }]);
  assertEquals(find(slave, "/s")?.options, ["rbind", "rslave", "rw"]);
  assertEquals(slave.rootfsPropagation, "rslave");

  const both = build([
    {
      containerPath: "/b",
      hostPath: "/srv/shared",
      propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
    },
    {
      containerPath: "/s",
      hostPath: "/srv/shared",
      propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
    },
  ]);
  assertEquals(find(both, "/b")?.options, ["rbind", "rshared", "rw"]);
  assertEquals(both.rootfsPropagation, "rshared");
});

Deno.test("containerMounts() checks the host mount's propagation when it is known", () => {
  assertFails(
    () =>
      build([{
        containerPath: "/b",
        hostPath: "/srv/slave",
        propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
      }]),
    "invalid-argument",
    'container.mounts[0].propagation: "/srv/slave" is not on a shared mount',
  );
  assertFails(
    () =>
      build([{
        containerPath: "/s",
        hostPath: "/srv/private",
        propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER,
      }]),
    "invalid-argument",
    "needs a shared or slave mount",
  );
  // Unknown facts are not guessed at.
  build([{
    containerPath: "/b",
    hostPath: "/srv/data",
    propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL,
  }]);
});

Deno.test("containerMounts() handles recursive read-only as containerd does", () => {
  const rro = {
    containerPath: "/r",
    hostPath: "/srv/data",
    readonly: true,
    recursiveReadOnly: true,
  };
  assertFails(() => build([rro]), "invalid-argument", "cannot make mounts recursively read-only");
  assertEquals(find(build([rro], { recursiveReadOnly: true }), "/r")?.options, [
    "rbind",
    "rprivate",
    "rro",
  ]);
  assertFails(
    () => build([{ ...rro, readonly: false }], { recursiveReadOnly: true }),
    "invalid-argument",
    "recursive_read_only: requires readonly",
  );
  assertFails(
    () =>
      build([{ ...rro, propagation: MountPropagation.PROPAGATION_HOST_TO_CONTAINER }], {
        recursiveReadOnly: true,
      }),
    "invalid-argument",
    "requires private propagation",
  );
});

Deno.test("containerMounts() appends allowed mount options and refuses others", () => {
  const r = build([{
    containerPath: "/x",
    hostPath: "/srv/data",
    mountOptions: ["noexec", "nosuid"],
  }]);
  assertEquals(find(r, "/x")?.options, ["rbind", "rprivate", "rw", "noexec", "nosuid"]);
  assertFails(
    () => build([{ containerPath: "/x", hostPath: "/srv/data", mountOptions: ["suid"] }]),
    "invalid-argument",
    'container.mounts[0].mount_options[0]: "suid"',
  );
});

Deno.test("containerMounts() refuses bad destinations and duplicates", () => {
  assertFails(
    () => build([{ containerPath: "data", hostPath: "/srv/data" }]),
    "invalid-argument",
    'container.mounts[0].container_path: "data" is not an absolute path',
  );
  assertFails(
    () => build([{ containerPath: "/a/..", hostPath: "/srv/data" }]),
    "invalid-argument",
    "cannot mount over the root filesystem",
  );
  assertFails(
    () =>
      build([
        { containerPath: "/x", hostPath: "/srv/data" },
        { containerPath: "/x/", hostPath: "/srv/data" },
      ]),
    "invalid-argument",
    'container.mounts[1].container_path: "/x" is also mounted by mounts[0]',
  );
});

Deno.test("containerMounts() refuses what the runtime did not resolve or cannot do", () => {
  assertFails(
    () => build([{ containerPath: "/x", hostPath: "/unknown" }]),
    "internal",
    'no facts about "/unknown"',
  );
  assertFails(
    () => build([{ containerPath: "/x", hostPath: "", image: { image: "busybox" } }]),
    "internal",
    "image volume was not resolved",
  );
  assertFails(
    () =>
      build([{
        containerPath: "/x",
        hostPath: "/srv/data",
        uidMappings: [{ hostId: 100000, containerId: 0, length: 65536 }],
      }]),
    "invalid-argument",
    "uidMappings: an idmapped mount needs a pod user namespace",
  );
  assertFails(
    () =>
      build([{
        containerPath: "/x",
        hostPath: "/srv/data",
        propagation: MountPropagation.UNRECOGNIZED,
      }]),
    "invalid-argument",
    "unknown propagation -1",
  );
});

Deno.test("containerMounts() of a privileged container mounts /sys and its cgroups read-write", () => {
  const r = build([], { privileged: true });
  assertEquals(find(r, "/sys")?.options?.at(-1), "rw");
  assertEquals(find(r, "/sys/fs/cgroup")?.options?.at(-1), "rw");
});

Deno.test("containerMounts() idmaps a volume with the pod's own mapping, and only that", () => {
  const m = { hostId: 131072, containerId: 0, length: 65536 };
  const userns = { hostId: 131072, length: 65536 };
  const x = find(
    build([{ containerPath: "/x", hostPath: "/srv/data", uidMappings: [m], gidMappings: [m] }], {
      userns,
    }),
    "/x",
  );
  const oci = [{ containerID: 0, hostID: 131072, size: 65536 }];
  assertEquals([x?.uidMappings, x?.gidMappings], [oci, oci]);
  assertFails(
    () =>
      build([{
        containerPath: "/x",
        hostPath: "/srv/data",
        uidMappings: [{ ...m, hostId: 65536 }],
        gidMappings: [m],
      }], { userns }),
    "invalid-argument",
    "mounts[0].uidMappings: must be the pod's own mapping (0 → 131072, 65536 ids)",
  );
  // A tmpfs (Secrets, projected tokens) can be idmapped from Linux 6.3 only: refused before.
  const tmpfs: HostPaths = { "/run/secret": { ...dir("/run/secret"), fsType: "tmpfs" } };
  const onTmpfs = {
    containerPath: "/s",
    hostPath: "/run/secret",
    uidMappings: [m],
    gidMappings: [m],
  };
  assertFails(
    () => build([onTmpfs], { userns, hostPaths: tmpfs }),
    "invalid-argument",
    'mounts[0].uidMappings: "/run/secret" is on a tmpfs, which this kernel cannot idmap',
  );
  assertEquals(
    find(build([onTmpfs], { userns, hostPaths: tmpfs, idmapTmpfs: true }), "/s")?.uidMappings,
    oci,
  );
});
