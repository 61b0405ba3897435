/**
 * Device nodes and the device cgroup: CRI `Device`s (and, for privileged containers, every
 * host device) become `linux.devices`, and `linux.resources.devices` denies everything but
 * the standard pseudo-devices and the devices given.
 *
 * @module
 */
import type { Device as CriDevice } from "../api/gen/api.ts";
import { internal, invalidArgument } from "../errors/mod.ts";
import type { DeviceFacts, HostDevice, HostPaths } from "./host.ts";
import { cleanPath, isWithin } from "./_paths.ts";
import type { LinuxDevice, LinuxDeviceCgroup } from "./spec.ts";

const rwm = "rwm";

/**
 * The device cgroup every unprivileged container gets before its own devices: deny all,
 * then allow the pseudo-devices runc creates in `/dev` plus ttys (containerd's
 * WithDefaultUnixDevices list).
 */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allow = (major: number, minor?: number): LinuxDeviceCgroup =>
    minor === undefined
      ? { allow: true, type: "c", major, access: rwm }
      : { allow: true, type: "c", major, minor, access: rwm };
  return [
    { allow: false, access: rwm },
    allow(1, 3), // /dev/null
    allow(1, 8), // /dev/random
    allow(1, 7), // /dev/full
    allow(5, 0), // /dev/tty
    allow(1, 5), // /dev/zero
    allow(1, 9), // /dev/urandom
    allow(5, 1), // /dev/console
    allow(136), // /dev/pts/*
    allow(5, 2), // /dev/ptmx
  ];
}

/** What {@link containerDevices} needs. */
export interface ContainerDevicesRequest {
  devices: readonly CriDevice[];
  hostPaths: HostPaths;
  privileged: boolean;
  /** The host's `/dev` nodes, given to privileged containers. */
  hostDevices?: readonly HostDevice[] | undefined;
  /** Field path of the devices list, for errors. */
  field: string;
}

/** Device nodes and cgroup rules of a container. */
export interface ContainerDevices {
  devices: LinuxDevice[];
  rules: LinuxDeviceCgroup[];
}

/**
 * The devices of a container. A CRI device whose host path is a directory brings every
 * device node the runtime listed under it, placed under the container path (containerd's
 * getDevices walk). Privileged containers also get every host device not already given, and
 * a device cgroup that allows everything (containerd's WithHostDevices,
 * WithAllDevicesAllowed).
 */
export function containerDevices(req: ContainerDevicesRequest): ContainerDevices {
  const devices: LinuxDevice[] = [];
  const rules = req.privileged ? [{ allow: true, access: rwm }] : defaultDeviceRules();
  req.devices.forEach((d, i) => {
    const field = `${req.field}[${i}]`;
    const access = checkPermissions(d.permissions, `${field}.permissions`);
    for (const node of criDeviceNodes(d, req.hostPaths, field)) {
      devices.push(node);
      if (!req.privileged) {
        rules.push({
          allow: true,
          type: node.type,
          major: node.major,
          minor: node.minor,
          access,
        });
      }
    }
  });
  if (req.privileged) {
    const seen = new Set(devices.map((d) => d.path));
    for (const h of req.hostDevices ?? []) {
      if (seen.has(h.path)) continue;
      seen.add(h.path);
      devices.push(linuxDevice(h.path, h));
    }
  }
  return { devices, rules };
}

function linuxDevice(path: string, f: DeviceFacts): LinuxDevice {
  return {
    path,
    type: f.type,
    major: f.major,
    minor: f.minor,
    fileMode: f.fileMode,
    uid: f.uid,
    gid: f.gid,
  };
}

/** `r`, `w`, `m` in any combination; empty means all three, Docker's default. */
function checkPermissions(p: string, field: string): string {
  if (p === "") return rwm;
  if (!/^[rwm]{1,3}$/.test(p) || new Set(p).size !== p.length) {
    throw invalidArgument(`${field}: "${p}" is not a combination of r, w and m`);
  }
  return p;
}

function criDeviceNodes(d: CriDevice, hostPaths: HostPaths, field: string): LinuxDevice[] {
  if (d.hostPath === "") throw invalidArgument(`${field}.host_path: empty`);
  if (d.containerPath !== "" && !d.containerPath.startsWith("/")) {
    throw invalidArgument(`${field}.container_path: "${d.containerPath}" is not an absolute path`);
  }
  const facts = hostPaths[d.hostPath];
  if (!facts) throw internal(`${field}.host_path: no facts about "${d.hostPath}" were gathered`);
  if (facts.kind === "device") {
    if (!facts.device) throw internal(`${field}.host_path: "${d.hostPath}" has no device facts`);
    const path = d.containerPath !== "" ? cleanPath(d.containerPath) : facts.realPath;
    return [linuxDevice(path, facts.device)];
  }
  if (facts.kind !== "directory") {
    throw invalidArgument(`${field}.host_path: "${d.hostPath}" is not a device node`);
  }
  // The runtime may key the nodes under the path as written or under the directory it
  // resolves to (a symlinked /dev/snd): either is accepted.
  const roots = [...new Set([cleanPath(d.hostPath), cleanPath(facts.realPath)])];
  const into = d.containerPath !== "" ? cleanPath(d.containerPath) : roots[0]!;
  const out: LinuxDevice[] = [];
  const seen = new Set<string>();
  for (const [p, f] of Object.entries(hostPaths).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    const cp = cleanPath(p);
    const root = roots.find((r) => cp !== r && isWithin(cp, r));
    if (root === undefined || f.kind !== "device" || !f.device) continue;
    const path = into + cp.slice(root.length);
    if (seen.has(path)) continue;
    seen.add(path);
    out.push(linuxDevice(path, f.device));
  }
  if (out.length === 0) {
    throw invalidArgument(`${field}.host_path: directory "${d.hostPath}" holds no device nodes`);
  }
  return out;
}
