/**
 * A container's mounts: the runtime's defaults (`/proc`, `/dev`, `/sys`…), the pod's files
 * (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`, `/dev/shm`) and the CRI mounts, merged
 * and ordered as containerd's WithMounts (`internal/cri/opts/spec_linux_opts.go`) does.
 *
 * @module
 */
import { type Mount as CriMount, MountPropagation } from "../api/gen/api.ts";
import { failedPrecondition, internal, invalidArgument } from "../errors/mod.ts";
import type { HostPaths } from "./host.ts";
import { cleanPath, isWithin, pathDepth } from "./_paths.ts";
import type { Mount } from "./spec.ts";

/**
 * The mounts every container starts from: containerd's `pkg/oci/mounts.go` defaults without
 * `/run` (its CRI plugin removes it) plus the `/sys/fs/cgroup` mount the CRI plugin adds.
 * Privileged containers get `/sys` and `/sys/fs/cgroup` read-write.
 */
export function defaultMounts(privileged: boolean): Mount[] {
  const ro = privileged ? "rw" : "ro";
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", ro],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", ro],
    },
  ];
}

/** Host files the runtime prepared for the pod, bind-mounted into its containers. */
export interface PodMounts {
  /** Becomes `/etc/hostname`. */
  hostname?: string | undefined;
  /** Becomes `/etc/hosts`. */
  hosts?: string | undefined;
  /** Becomes `/etc/resolv.conf`. */
  resolvConf?: string | undefined;
  /** Becomes `/dev/shm` (the pod's shm tmpfs, or the host's `/dev/shm` for host IPC). */
  shm?: string | undefined;
}

/** What {@link containerMounts} needs. */
export interface ContainerMountsRequest {
  mounts: readonly CriMount[];
  podMounts: PodMounts;
  hostPaths: HostPaths;
  privileged: boolean;
  /** The pod files are read-only when the root filesystem is. */
  readonlyRootfs: boolean;
  /** The pod's runtime handler can make mounts recursively read-only (`rro`, probed). */
  recursiveReadOnly: boolean;
  /** SELinux is enabled on the node (then a relabel request is refused: none is done). */
  selinux?: boolean;
  /** The pod's user namespace mapping, when it has one: volumes may then be idmapped. */
  userns?: { hostId: number; length: number } | undefined;
  /** The kernel can idmap a tmpfs (Linux ≥ 6.3). */
  idmapTmpfs?: boolean;
  /** Field path of the mounts list, for errors. */
  field: string;
}

/** The mounts of a container, and the root propagation they need. */
export interface ContainerMounts {
  mounts: Mount[];
  /** `rshared` or `rslave` when a mount propagates; otherwise runc's default (rprivate). */
  rootfsPropagation?: string;
}

/** Bind options the CRI `mount_options` field may carry (KEP-5855). */
const ALLOWED_MOUNT_OPTIONS = new Set(["noexec", "nodev", "nosuid"]);

/**
 * The mounts of a container: defaults, then pod files and CRI mounts. A CRI mount replaces a
 * default or pod mount at the same destination, and a CRI `/dev` drops every default under
 * `/dev`. The result is stably sorted by depth so that a parent is always mounted before
 * what lies below it (containerd sorts only the CRI mounts after the defaults; sorting all
 * keeps a CRI `/sys/fs` from hiding the default `/sys/fs/cgroup`).
 */
export function containerMounts(req: ContainerMountsRequest): ContainerMounts {
  const binds: { dest: string; mount: Mount }[] = [];
  const taken = new Map<string, number>();
  let rootfsPropagation: string | undefined;

  req.mounts.forEach((m, i) => {
    const field = `${req.field}[${i}]`;
    const dest = checkDestination(m.containerPath, `${field}.container_path`);
    const earlier = taken.get(dest);
    if (earlier !== undefined) {
      throw invalidArgument(
        `${field}.container_path: "${dest}" is also mounted by mounts[${earlier}]`,
      );
    }
    taken.set(dest, i);
    const bind = criBind(m, req, field);
    if (bind.propagation === "rshared") rootfsPropagation = "rshared";
    if (bind.propagation === "rslave" && rootfsPropagation !== "rshared") {
      rootfsPropagation = "rslave";
    }
    binds.push({ dest, mount: bind.mount });
  });

  const pod: [string, string | undefined, boolean][] = [
    ["/etc/hostname", req.podMounts.hostname, req.readonlyRootfs],
    ["/etc/hosts", req.podMounts.hosts, req.readonlyRootfs],
    ["/etc/resolv.conf", req.podMounts.resolvConf, req.readonlyRootfs],
    ["/dev/shm", req.podMounts.shm, false],
  ];
  for (const [dest, source, readonly] of pod) {
    if (source === undefined || taken.has(dest)) continue;
    taken.set(dest, -1);
    binds.push({
      dest,
      mount: {
        destination: dest,
        type: "bind",
        source,
        options: ["rbind", "rprivate", readonly ? "ro" : "rw"],
      },
    });
  }

  const devMounted = taken.has("/dev");
  const defaults = defaultMounts(req.privileged)
    .filter((d) => !taken.has(d.destination))
    .filter((d) => !(devMounted && isWithin(d.destination, "/dev")))
    .map((mount) => ({ dest: mount.destination, mount }));

  // Array.prototype.sort is stable, so equal depths keep defaults-then-binds order.
  const all = [...defaults, ...binds].sort((a, b) => pathDepth(a.dest) - pathDepth(b.dest));
  const out: ContainerMounts = { mounts: all.map((x) => x.mount) };
  if (rootfsPropagation) out.rootfsPropagation = rootfsPropagation;
  return out;
}

function checkDestination(path: string, field: string): string {
  if (!path.startsWith("/")) {
    throw invalidArgument(`${field}: "${path}" is not an absolute path`);
  }
  const dest = cleanPath(path);
  if (dest === "/") throw invalidArgument(`${field}: cannot mount over the root filesystem`);
  return dest;
}

function criBind(
  m: CriMount,
  req: ContainerMountsRequest,
  field: string,
): { mount: Mount; propagation: string } {
  const idmap = idMappings(m, req, field);
  if (m.hostPath === "") {
    if (m.image) {
      throw internal(`${field}: the image volume was not resolved to a host path before building`);
    }
    throw invalidArgument(`${field}.host_path: empty`);
  }
  const facts = req.hostPaths[m.hostPath];
  if (!facts) throw internal(`${field}.host_path: no facts about "${m.hostPath}" were gathered`);

  let propagation: string;
  switch (m.propagation) {
    case MountPropagation.PROPAGATION_PRIVATE:
      propagation = "rprivate";
      break;
    case MountPropagation.PROPAGATION_HOST_TO_CONTAINER:
      if (facts.propagation === "private") {
        throw invalidArgument(
          `${field}.propagation: "${m.hostPath}" is on a private mount; host-to-container ` +
            "propagation needs a shared or slave mount",
        );
      }
      propagation = "rslave";
      break;
    case MountPropagation.PROPAGATION_BIDIRECTIONAL:
      if (facts.propagation !== undefined && facts.propagation !== "shared") {
        throw invalidArgument(
          `${field}.propagation: "${m.hostPath}" is not on a shared mount; bidirectional ` +
            "propagation needs one",
        );
      }
      propagation = "rshared";
      break;
    default:
      throw invalidArgument(`${field}.propagation: unknown propagation ${m.propagation}`);
  }

  // As containerd: the pod's readonly_rootfs does not make volumes read-only.
  let access: string;
  if (m.recursiveReadOnly) {
    if (!m.readonly) {
      throw invalidArgument(`${field}.recursive_read_only: requires readonly`);
    }
    if (!req.recursiveReadOnly) {
      throw invalidArgument(
        `${field}.recursive_read_only: the pod's runtime handler cannot make mounts ` +
          "recursively read-only (its runtime lacks rro, or the kernel mount_setattr; Status " +
          "lists recursive_read_only_mounts=false for it)",
      );
    }
    if (propagation !== "rprivate") {
      throw invalidArgument(`${field}.recursive_read_only: requires private propagation`);
    }
    access = "rro";
  } else {
    access = m.readonly ? "ro" : "rw";
  }
  const extra = m.mountOptions.map((o, j) => {
    if (!ALLOWED_MOUNT_OPTIONS.has(o)) {
      throw invalidArgument(
        `${field}.mount_options[${j}]: "${o}" is not one of noexec, nodev, nosuid`,
      );
    }
    return o;
  });
  // As containerd and CRI-O, a relabel request means nothing on a node without SELinux; on
  // one with SELinux it would silently not happen, since sauropod does no labelling.
  if (m.selinuxRelabel && req.selinux) {
    throw failedPrecondition(
      `${field}.selinux_relabel: sauropod does not apply SELinux labels, and SELinux is ` +
        "enabled on this node",
    );
  }
  return {
    mount: {
      destination: cleanPath(m.containerPath),
      type: "bind",
      source: facts.realPath,
      options: ["rbind", propagation, access, ...extra],
      ...idmap,
    },
    propagation,
  };
}

/**
 * A CRI mount's uid/gid mappings as OCI mount mappings (an idmapped bind mount, as the
 * kubelet asks for every volume of a pod in a user namespace). Only in such a pod, and only
 * mappings equal to the pod's: the runtimes (runc 1.2, crun 1.8) accept no other.
 */
function idMappings(
  m: CriMount,
  req: ContainerMountsRequest,
  field: string,
): Pick<Mount, "uidMappings" | "gidMappings"> {
  if (m.uidMappings.length === 0 && m.gidMappings.length === 0) return {};
  const u = req.userns;
  if (!u) {
    throw invalidArgument(
      `${field}.uidMappings: an idmapped mount needs a pod user namespace ` +
        "(namespace_options.userns_options mode POD)",
    );
  }
  const same = (list: CriMount["uidMappings"]) =>
    list.length === 1 && list[0]!.containerId === 0 && list[0]!.hostId === u.hostId &&
    list[0]!.length === u.length;
  for (
    const [key, list] of [["uidMappings", m.uidMappings], ["gidMappings", m.gidMappings]] as const
  ) {
    if (!same(list)) {
      throw invalidArgument(
        `${field}.${key}: must be the pod's own mapping (0 → ${u.hostId}, ${u.length} ids)`,
      );
    }
  }
  const fsType = req.hostPaths[m.hostPath]?.fsType;
  if (fsType === "tmpfs" && !req.idmapTmpfs) {
    throw invalidArgument(
      `${field}.uidMappings: "${m.hostPath}" is on a tmpfs, which this kernel cannot idmap ` +
        "(Linux 6.3 can); sauropod check shows the probe",
    );
  }
  const map = [{ containerID: 0, hostID: u.hostId, size: u.length }];
  return { uidMappings: map, gidMappings: structuredClone(map) };
}
