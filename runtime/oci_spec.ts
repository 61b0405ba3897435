/**
 * The impure half of spec building: gather the facts the pure builders in `oci/` need —
 * what every host path is (stat, realpath, mount propagation), the image's /etc/passwd and
 * /etc/group read safely inside the rootfs, a Localhost seccomp profile, the host's devices
 * for privileged containers — then build.
 *
 * @module
 */
import { invalidArgument, wrap } from "../errors/mod.ts";
import { NamespaceMode, type PodSandboxConfig } from "../api/gen/api.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";
import {
  type AnnotationAllowlist,
  apparmorRequest,
  buildContainerSpec,
  buildSandboxSpec,
  type HostDevice,
  type HostPathFacts,
  localhostSeccompProfilePath,
  type NodeFacts,
  type Spec,
} from "../oci/mod.ts";
import type { RuntimeCore } from "./core.ts";
import type { Container, Sandbox } from "./records.ts";
import type { ImageRecord } from "../image/mod.ts";
import { readFileInRoot } from "../lib/secure_path.ts";
import { deviceNumbers } from "../lib/devnum.ts";
import { applyContainerCdi, resolveContainerCdi } from "./cdi.ts";

/** The pod's hostname: the config's, else the node's for host-network pods, else the name. */
export function podHostname(config: PodSandboxConfig, hostNetwork: boolean): string {
  if (config.hostname) return config.hostname;
  if (hostNetwork) return Deno.hostname();
  return (config.metadata?.name ?? "pod").slice(0, 63);
}

/** The spec of the pause container of `s`. */
export async function sandboxSpec(
  core: RuntimeCore,
  s: Sandbox,
  image: ImageRecord,
  rootfs: string,
): Promise<Spec> {
  const sc = s.config.linux?.securityContext;
  const seccompPath = localhostSeccompProfilePath(sc, "config.linux.security_context");
  const apparmor = apparmorRequest(
    sc,
    sc?.privileged ?? false,
    "config.linux.security_context",
  );
  return buildSandboxSpec({
    sandboxId: s.doc.id,
    config: s.config,
    image: image.config,
    imageName: core.config.sandbox.image,
    rootfsPath: rootfs,
    namespaces: {
      network: s.doc.ns.net ?? "host",
      ipc: s.doc.ns.ipc ?? "host",
      uts: s.doc.ns.uts ?? "host",
    },
    cgroupsPath: core.deps.cgroups.cgroupsPath(s.doc.cgroupParent, s.doc.id),
    podMounts: { shm: s.doc.shm?.path, resolvConf: s.doc.files.resolvConf },
    passwd: await readFileInRoot(rootfs, "/etc/passwd"),
    group: await readFileInRoot(rootfs, "/etc/group"),
    oomScoreAdj: core.deps.oom,
    localhostSeccompProfile: seccompPath
      ? await readProfile(seccompPath, "config.linux.security_context.seccomp")
      : undefined,
    node: nodeFacts(core, s),
    apparmorProfile: await core.deps.apparmor.profileFor(apparmor),
    annotationAllowlist: annotationAllowlist(core, s),
  });
}

/** The operator's allowlist of pod and container annotations, of the pod's handler. */
function annotationAllowlist(core: RuntimeCore, s: Sandbox): AnnotationAllowlist {
  const h = core.handlers.recorded(s.doc.handler);
  return { pod: h.podAnnotations, container: h.containerAnnotations };
}

/** The node's facts, with what the pod's runtime handler can do. */
function nodeFacts(core: RuntimeCore, s: Sandbox): NodeFacts {
  const h = core.handlers.recorded(s.doc.handler);
  return {
    ...core.deps.node,
    recursiveReadOnlyMounts: h.features.recursiveReadOnlyMounts,
    idmapTmpfs: h.features.idmapTmpfs ?? false,
  };
}

/** The spec of container `c` in pod `s`. */
export async function containerSpec(
  core: RuntimeCore,
  s: Sandbox,
  c: Container,
  image: ImageRecord,
): Promise<Spec> {
  // An image volume is bound from where CreateContainer mounted its image (read-only).
  const volumes = new Map((c.doc.imageVolumes ?? []).map((v) => [v.mount, v.path]));
  const config = {
    ...c.config,
    mounts: c.config.mounts.map((m, i) => {
      const path = volumes.get(i);
      return path === undefined ? m : { ...m, hostPath: path, image: undefined, imageSubPath: "" };
    }),
  };
  const sc = config.linux?.securityContext;
  // First: an unknown device or a broken spec fails before anything else is looked at.
  const cdi = await resolveContainerCdi(core.config.cdi.specDirs, config);
  const hostPaths: Record<string, HostPathFacts> = {};
  for (const [i, m] of config.mounts.entries()) {
    hostPaths[m.hostPath] = await hostPathFacts(m.hostPath, `config.mounts[${i}].host_path`);
  }
  for (const [i, d] of config.devices.entries()) {
    const field = `config.devices[${i}].host_path`;
    const facts = await hostPathFacts(d.hostPath, field);
    hostPaths[d.hostPath] = facts;
    if (facts.kind === "directory") {
      for (const dev of await devicesUnder(facts.realPath)) {
        hostPaths[dev.path] = { kind: "device", realPath: dev.path, device: dev };
      }
    }
  }
  const seccompPath = localhostSeccompProfilePath(sc, "config.linux.security_context");
  const apparmor = apparmorRequest(
    sc,
    sc?.privileged ?? false,
    "config.linux.security_context",
  );
  const spec = buildContainerSpec({
    containerId: c.doc.id,
    sandboxId: s.doc.id,
    config,
    sandboxConfig: s.config,
    image: image.config,
    imageName: c.doc.imageName,
    rootfsPath: c.doc.rootfs,
    namespaces: {
      network: s.doc.ns.net ?? "host",
      ipc: s.doc.ns.ipc ?? "host",
      uts: s.doc.ns.uts ?? "host",
      pid: pidNamespace(core, s, c),
    },
    cgroupsPath: c.doc.cgroupsPath,
    userns: s.doc.userns && s.doc.ns.user ? { path: s.doc.ns.user, ...s.doc.userns } : undefined,
    podMounts: {
      hostname: s.doc.files.hostname,
      hosts: s.doc.files.hosts,
      resolvConf: s.doc.files.resolvConf,
      shm: s.doc.shm?.path ?? (s.doc.hostIpc ? "/dev/shm" : undefined),
    },
    hostPaths,
    passwd: await readFileInRoot(c.doc.rootfs, "/etc/passwd"),
    group: await readFileInRoot(c.doc.rootfs, "/etc/group"),
    hostDevices: sc?.privileged ? await devicesUnder("/dev") : undefined,
    oomScoreAdj: core.deps.oom,
    hostname: podHostname(s.config, s.doc.hostNetwork),
    localhostSeccompProfile: seccompPath
      ? await readProfile(seccompPath, "config.linux.security_context.seccomp")
      : undefined,
    agentCapabilities: core.deps.agentCapabilities,
    node: nodeFacts(core, s),
    apparmorProfile: await core.deps.apparmor.profileFor(apparmor),
    annotationAllowlist: annotationAllowlist(core, s),
  });
  await applyContainerCdi(spec, cdi);
  return spec;
}

/** Which PID namespace the container joins. */
function pidNamespace(core: RuntimeCore, s: Sandbox, c: Container): string {
  const opts = c.config.linux?.securityContext?.namespaceOptions;
  const mode = opts?.pid ?? (s.doc.pidMode === "pod" ? NamespaceMode.POD : NamespaceMode.CONTAINER);
  switch (mode) {
    case NamespaceMode.NODE:
      return "host";
    case NamespaceMode.POD: {
      const pid = s.doc.pause?.pid;
      if (!pid) {
        throw invalidArgument(
          `config.linux.security_context.namespace_options.pid is POD but pod sandbox ` +
            `"${s.doc.id}" does not share a PID namespace`,
        );
      }
      return `/proc/${pid}/ns/pid`;
    }
    case NamespaceMode.TARGET: {
      const target = core.findContainer(opts?.targetId ?? "");
      if (!target || target.doc.state !== "running" || !target.doc.pid) {
        throw invalidArgument(
          `config.linux.security_context.namespace_options.target_id "${opts?.targetId}" ` +
            `is not a running container`,
        );
      }
      return `/proc/${target.doc.pid}/ns/pid`;
    }
    default:
      return "new";
  }
}

/** What `path` (a host path from the config) is; missing → invalid-argument naming `field`. */
export async function hostPathFacts(path: string, field: string): Promise<HostPathFacts> {
  let real: string;
  let st: Deno.FileInfo;
  try {
    real = await kernfs.realPath(path);
    st = await kernfs.stat(real);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw invalidArgument(`${field}: "${path}" does not exist on the node`);
    }
    throw wrap(err, `${field}: cannot inspect "${path}"`);
  }
  const kind = st.isFile
    ? "file"
    : st.isDirectory
    ? "directory"
    : st.isCharDevice || st.isBlockDevice
    ? "device"
    : "other";
  const facts: HostPathFacts = { kind, realPath: real };
  if (kind === "device") facts.device = deviceFacts(st);
  const mount = await mountOf(real);
  if (mount?.propagation) facts.propagation = mount.propagation;
  if (mount?.fsType) facts.fsType = mount.fsType;
  return facts;
}

function deviceFacts(st: Deno.FileInfo): HostPathFacts["device"] & object {
  const { major, minor } = deviceNumbers(st.rdev ?? 0);
  return {
    type: st.isBlockDevice ? "b" : "c",
    major,
    minor,
    fileMode: (st.mode ?? 0) & 0o7777,
    uid: st.uid ?? 0,
    gid: st.gid ?? 0,
  };
}

/** Device nodes under `dir` (recursively), as containerd's HostDevices lists `/dev`. */
async function devicesUnder(dir: string): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  const walk = async (d: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(kernfs.readDir(d));
    } catch {
      return;
    }
    for (const e of entries) {
      const p = `${d}/${e.name}`;
      if (e.isSymlink) continue;
      if (e.isDirectory) {
        if (d === "/dev" && ["pts", "shm", "fd", "mqueue"].includes(e.name)) continue;
        await walk(p, depth + 1);
        continue;
      }
      try {
        const st = await kernfs.lstat(p);
        if (st.isCharDevice || st.isBlockDevice) out.push({ path: p, ...deviceFacts(st) });
      } catch {
        // vanished
      }
    }
  };
  await walk(dir.replace(/\/+$/, ""), 0);
  return out;
}

/** The propagation and filesystem type of the mount holding `path` (/proc/self/mountinfo). */
async function mountOf(
  path: string,
): Promise<{ propagation: HostPathFacts["propagation"]; fsType?: string } | undefined> {
  let text: string;
  try {
    text = await kernfs.readTextFile("/proc/self/mountinfo");
  } catch {
    return undefined;
  }
  let best = "";
  let prop: HostPathFacts["propagation"];
  let fsType: string | undefined;
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const mp = (f[4] ?? "").replace(/\\040/g, " ");
    if (!mp || !(path === mp || path.startsWith(mp === "/" ? "/" : `${mp}/`))) continue;
    if (mp.length < best.length) continue;
    best = mp;
    const sep = f.indexOf("-");
    const optional = f.slice(6, sep < 0 ? undefined : sep);
    prop = optional.some((o) => o.startsWith("shared:"))
      ? "shared"
      : optional.some((o) => o.startsWith("master:"))
      ? "slave"
      : "private";
    fsType = sep < 0 ? undefined : f[sep + 1];
  }
  return best ? { propagation: prop, ...(fsType ? { fsType } : {}) } : undefined;
}

async function readProfile(path: string, field: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw invalidArgument(
      `${field}: cannot read seccomp profile "${path}": ${
        err instanceof Error ? err.message : err
      }`,
    );
  }
}
