/**
 * Applying resolved CDI devices to a container's OCI spec, as the CDI library's
 * `container-edits.go` `Apply` does: for each distinct spec its spec-level edits once, then
 * each device's edits, in request order.
 *
 * - `env`: merged by name (a device's variable replaces the image's or the config's).
 * - `deviceNodes`: added to `linux.devices` (one at the same container path is replaced),
 *   type/major/minor/fileMode taken from the host node when the spec leaves them out; a `b`
 *   or `c` node gets a device cgroup rule with its permissions (`rwm` by default).
 * - `mounts`: added (one at the same destination is replaced), then all mounts are sorted by
 *   depth so parents come first.
 * - `hooks`: appended to the OCI hook list of their name.
 * - `additionalGids`: added to the process's supplementary groups (0 is skipped).
 * - `intelRdt`, `netDevices`: refused (FAILED_PRECONDITION naming the device and file): the
 *   runtime spec sauropod writes (1.0.2) has no `netDevices`, and no node here has RDT.
 *
 * @module
 */
import { failedPrecondition, internal } from "../../errors/mod.ts";
import { cleanPath, pathDepth } from "../_paths.ts";
import { mergeEnv } from "../process.ts";
import type { Hooks, LinuxDevice, Mount, Spec } from "../spec.ts";
import type { ResolvedDevice } from "./registry.ts";
import type { CdiDeviceNode, CdiEdits, CdiSpec } from "./spec.ts";

/** What the host says about a device node a spec names (from `lstat(2)`). */
export interface CdiHostNode {
  /** `b`, `c`, `p` (fifo), or `other`. */
  type: "b" | "c" | "p" | "other";
  major: number;
  minor: number;
  fileMode: number;
}

/** One batch of edits and where it came from, in the order they apply. */
interface EditSource {
  edits: CdiEdits;
  /** "device \"v/c=n\"" or "spec-level edits", for messages. */
  what: string;
  spec: CdiSpec;
}

function sources(devices: readonly ResolvedDevice[]): EditSource[] {
  const out: EditSource[] = [];
  const specs = new Set<CdiSpec>();
  for (const d of devices) {
    if (specs.has(d.spec)) continue;
    specs.add(d.spec);
    out.push({ edits: d.spec.containerEdits, what: "spec-level edits", spec: d.spec });
  }
  for (const d of devices) {
    out.push({ edits: d.device.containerEdits, what: `device "${d.qualified}"`, spec: d.spec });
  }
  return out;
}

/** True when a node's type or numbers must come from the host node. */
function needsHost(n: CdiDeviceNode): boolean {
  return !n.type || (n.type !== "p" && !n.major);
}

/**
 * The host paths the runtime must `lstat` before {@link applyCdiDevices}: device nodes whose
 * spec leaves out the type or numbers, and every mount source (so a missing one fails here,
 * not as a runc error).
 */
export function cdiHostPaths(devices: readonly ResolvedDevice[]): {
  nodes: string[];
  mounts: string[];
} {
  const nodes = new Set<string>();
  const mounts = new Set<string>();
  for (const s of sources(devices)) {
    for (const n of s.edits.deviceNodes ?? []) {
      if (needsHost(n) || n.fileMode === undefined) nodes.add(n.hostPath ?? n.path);
    }
    for (const m of s.edits.mounts ?? []) mounts.add(m.hostPath);
  }
  return { nodes: [...nodes], mounts: [...mounts] };
}

/**
 * Applies the devices' edits to `spec` in place. `hostNodes` holds the facts of every node
 * path {@link cdiHostPaths} listed (absent: it does not exist).
 */
export function applyCdiDevices(
  spec: Spec,
  devices: readonly ResolvedDevice[],
  hostNodes: ReadonlyMap<string, CdiHostNode>,
): void {
  if (devices.length === 0) return;
  const process = spec.process;
  const linux = spec.linux ??= {};
  if (!process) throw internal("CDI: the spec has no process");
  for (const s of sources(devices)) {
    const where = `CDI ${s.what} of "${s.spec.file}"`;
    const e = s.edits;
    if (e.intelRdt !== undefined) {
      throw failedPrecondition(`${where}: intelRdt edits are not supported by sauropod`);
    }
    if (e.netDevices !== undefined) {
      throw failedPrecondition(`${where}: netDevices edits are not supported by sauropod`);
    }
    if (e.env) process.env = mergeEnv(process.env ?? [], e.env);
    for (const n of e.deviceNodes ?? []) {
      const dev = deviceNode(n, hostNodes, process.user, where);
      linux.devices = [...(linux.devices ?? []).filter((d) => d.path !== dev.path), dev];
      const access = n.permissions === "none" ? "" : n.permissions ?? "rwm";
      if ((dev.type === "b" || dev.type === "c") && access !== "") {
        const resources = linux.resources ??= {};
        (resources.devices ??= []).push({
          allow: true,
          type: dev.type,
          major: dev.major,
          minor: dev.minor,
          access,
        });
      }
    }
    for (const m of e.mounts ?? []) {
      const destination = cleanPath(m.containerPath);
      const type = m.type ?? "bind";
      const options = [...(m.options ?? [])];
      if (type === "bind" && !options.includes("bind") && !options.includes("rbind")) {
        options.unshift("rbind");
      }
      const mount: Mount = { destination, type, source: m.hostPath, options };
      spec.mounts = [
        ...(spec.mounts ?? []).filter((x) => cleanPath(x.destination) !== destination),
        mount,
      ];
    }
    for (const h of e.hooks ?? []) {
      const hooks: Hooks = spec.hooks ??= {};
      const list = hooks[h.hookName as keyof Hooks] ??= [];
      const hook: NonNullable<Hooks["prestart"]>[number] = { path: h.path };
      if (h.args) hook.args = [...h.args];
      if (h.env) hook.env = [...h.env];
      if (h.timeout !== undefined) hook.timeout = h.timeout;
      list.push(hook);
    }
    for (const g of e.additionalGids ?? []) {
      if (g === 0) continue;
      const gids = process.user.additionalGids ??= [];
      if (!gids.includes(g)) gids.push(g);
    }
  }
  if (spec.mounts) {
    // Stable: parents before what lies below them; equal depths keep their order.
    spec.mounts = spec.mounts
      .map((m, i) => ({ m, i, d: pathDepth(cleanPath(m.destination)) }))
      .sort((a, b) => a.d - b.d || a.i - b.i)
      .map((x) => x.m);
  }
}

function deviceNode(
  n: CdiDeviceNode,
  hostNodes: ReadonlyMap<string, CdiHostNode>,
  user: { uid: number; gid: number },
  where: string,
): LinuxDevice {
  const hostPath = n.hostPath ?? n.path;
  let type = n.type;
  let major = n.major ?? 0;
  let minor = n.minor ?? 0;
  let fileMode = n.fileMode;
  if (needsHost(n) || fileMode === undefined) {
    const host = hostNodes.get(hostPath);
    if (!host) {
      if (needsHost(n)) {
        throw failedPrecondition(`${where}: device node "${hostPath}" does not exist on the host`);
      }
    } else {
      if (host.type === "other") {
        throw failedPrecondition(`${where}: "${hostPath}" on the host is not a device node`);
      }
      if (needsHost(n)) {
        if (type && type !== host.type) {
          throw failedPrecondition(
            `${where}: device node "${n.path}" has type "${type}" but "${hostPath}" on the host ` +
              `is "${host.type}"`,
          );
        }
        type = host.type;
        if (type !== "p") {
          major = host.major;
          minor = host.minor;
        }
      }
      fileMode ??= host.fileMode;
    }
  }
  const dev: LinuxDevice = { path: cleanPath(n.path), type: type!, major, minor };
  if (fileMode !== undefined) dev.fileMode = fileMode;
  // As the CDI library: owner from the spec, else the process's when it is not root.
  const uid = n.uid ?? (user.uid > 0 ? user.uid : undefined);
  const gid = n.gid ?? (user.gid > 0 ? user.gid : undefined);
  if (uid !== undefined) dev.uid = uid;
  if (gid !== undefined) dev.gid = gid;
  return dev;
}
