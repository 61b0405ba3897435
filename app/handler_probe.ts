/**
 * What each runtime handler can do, probed once at start (and by `sauropod check`), never
 * assumed: the runtime's own `features` JSON where it has one (runc ≥ 1.1, crun ≥ 1.8.6),
 * else its `--version` against a table of the releases that added each feature; and the
 * kernel's side, probed on detached mounts (`ffi/mount_attr.ts`).
 *
 * - recursive read-only mounts: the runtime knows the `rro` option AND the kernel can
 *   `mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY)` (as containerd and CRI-O decide).
 * - user namespaces: the runtime does user namespaces and idmapped mounts
 *   (`linux.mountExtensions.idmap.enabled`; runc 1.1.5 has no idmap and silently ignores
 *   mount mappings, so it never qualifies by version alone), the kernel idmaps the
 *   filesystem under sauropod's root, AND sauropod itself can give the pod an idmapped
 *   rootfs ({@link SAUROPOD_USERNS}).
 *
 * @module
 */
import type { Config, HandlerConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { which } from "../lib/exec.ts";
import { messageOf } from "../errors/mod.ts";
import {
  closeNs,
  openNs,
  probeIdmap,
  type ProbeOutcome,
  probeRecursiveReadOnly,
} from "../ffi/mount_attr.ts";
// Deno grants /proc only to --allow-all; the probe's user namespace is set up through libc.
import * as kernfs from "../ffi/kernfs.ts";
import {
  type HandlerFeatures,
  type HandlerProbe,
  HandlerSet,
  type RuntimeHandlerInfo,
} from "../runtime/handlers.ts";

/**
 * Whether sauropod can run a pod in a user namespace with its image's files owned right
 * inside (idmapped lower layers). Until it can, no handler advertises user namespaces and
 * RunPodSandbox refuses them, whatever the runtime could do: a chowned copy of a shared
 * snapshot is not an option.
 */
export const SAUROPOD_USERNS = true;

/** The kernel's side, probed once for every handler. */
export interface KernelProbes {
  recursiveReadOnly: ProbeOutcome;
  /** Idmapping the filesystem of sauropod's root (image layers) and a tmpfs. */
  idmapRootFs: ProbeOutcome;
  idmapTmpfs: ProbeOutcome;
}

/** The parts of `<runtime> features` sauropod reads (OCI runtime-spec features.md). */
interface FeaturesJson {
  ociVersionMin?: unknown;
  ociVersionMax?: unknown;
  mountOptions?: unknown;
  linux?: {
    namespaces?: unknown;
    mountExtensions?: { idmap?: { enabled?: unknown } };
  };
}

/** What the runtime says it can do, before the kernel is asked. */
interface RuntimeSide {
  rro: boolean;
  userns: boolean;
  idmap: boolean;
}

/** Releases that added a feature, for runtimes without `features` (crun < 1.8.6). */
const VERSION_TABLE: Record<string, { rro: string; idmap: string }> = {
  // runc: rro in 1.1; mounts[].uidMappings in 1.2 (docs/spec-conformance.md).
  runc: { rro: "1.1.0", idmap: "1.2.0" },
  // crun: rro in 1.4 (NEWS); 1.8.1 idmaps bind mounts with the user namespace's mappings
  // (measured in Debian 12 with crun 1.8.1-1+deb12u1).
  crun: { rro: "1.4.0", idmap: "1.8.1" },
};

const TIMEOUT_MS = 10_000;
const dec = new TextDecoder();

async function run(
  binary: string,
  args: string[],
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(binary, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).output();
    return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (err) {
    return { ok: false, stdout: "", stderr: messageOf(err) };
  }
}

/** `1.8.1` ≥ `1.4.0`? (numeric, dotted; a suffix such as `+ds1` is ignored). */
export function versionAtLeast(have: string, want: string): boolean {
  const parse = (v: string) => (v.match(/^\d+(?:\.\d+)*/)?.[0] ?? "0").split(".").map(Number);
  const a = parse(have);
  const b = parse(want);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** Reads the runtime's `features` JSON; undefined when it is not valid (no OCI versions). */
export function parseFeatures(text: string): RuntimeSide | undefined {
  let f: FeaturesJson;
  try {
    f = JSON.parse(text) as FeaturesJson;
  } catch {
    return undefined;
  }
  if (typeof f !== "object" || f === null) return undefined;
  if (typeof f.ociVersionMin !== "string" || typeof f.ociVersionMax !== "string") return undefined;
  if (!f.ociVersionMin || !f.ociVersionMax) return undefined;
  const strings = (v: unknown) => Array.isArray(v) ? v.filter((x) => typeof x === "string") : [];
  return {
    rro: strings(f.mountOptions).includes("rro"),
    userns: strings(f.linux?.namespaces).includes("user"),
    idmap: f.linux?.mountExtensions?.idmap?.enabled === true,
  };
}

/** `runc version 1.1.5+ds1` / `crun version 1.8.1` → [name, version]. */
export function parseVersion(text: string): [string, string] | undefined {
  const m = text.match(/^(\S+) version (\S+)/m);
  return m ? [m[1]!, m[2]!] : undefined;
}

/** Probes the kernel once: detached mounts only, nothing is left mounted. */
export async function probeKernel(root: string, log?: Logger): Promise<KernelProbes> {
  const recursiveReadOnly = probeRecursiveReadOnly();
  let idmapRootFs: ProbeOutcome = { ok: false, error: "not probed" };
  let idmapTmpfs: ProbeOutcome = { ok: false, error: "not probed" };
  try {
    await withUserns(async (fd) => {
      // The root may not exist yet on a fresh node: its nearest existing ancestor is on the
      // filesystem it will be made on.
      idmapRootFs = probeIdmap({ dir: await existingAncestor(root) }, fd);
      idmapTmpfs = probeIdmap("tmpfs", fd);
    });
  } catch (err) {
    log?.warn("cannot make a user namespace to probe idmapped mounts", { err });
    idmapRootFs = idmapTmpfs = { ok: false, error: messageOf(err) };
  }
  return { recursiveReadOnly, idmapRootFs, idmapTmpfs };
}

async function existingAncestor(dir: string): Promise<string> {
  let d = dir.replace(/\/+$/, "") || "/";
  for (;;) {
    try {
      if ((await Deno.stat(d)).isDirectory) return d;
    } catch {
      // missing: its parent
    }
    if (d === "/") return d;
    d = d.slice(0, d.lastIndexOf("/")) || "/";
  }
}

/**
 * Runs `fn` with a descriptor of a fresh user namespace mapping 0..65535 to
 * 100000..165535 (a `unshare -U sleep` child the agent starts and kills, by its pid).
 */
async function withUserns(fn: (fd: number) => Promise<void>): Promise<void> {
  const unshare = which("unshare");
  if (!unshare) throw new Error("unshare not found on PATH");
  const child = new Deno.Command(unshare, {
    args: ["--user", "sleep", "30"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const self = kernfs.readLinkSync("/proc/self/ns/user");
    const deadline = Date.now() + 5000;
    while (kernfs.readLinkSync(`/proc/${child.pid}/ns/user`) === self) {
      if (Date.now() > deadline) throw new Error("unshare --user did not make a namespace");
      await new Promise((r) => setTimeout(r, 10));
    }
    kernfs.writeTextFileSync(`/proc/${child.pid}/uid_map`, "0 100000 65536\n");
    kernfs.writeTextFileSync(`/proc/${child.pid}/setgroups`, "deny\n");
    kernfs.writeTextFileSync(`/proc/${child.pid}/gid_map`, "0 100000 65536\n");
    const fd = openNs(`/proc/${child.pid}/ns/user`);
    try {
      await fn(fd);
    } finally {
      closeNs(fd);
    }
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
  }
}

const note = (what: string, o: ProbeOutcome) => `${what}: ${o.ok ? "yes" : `no (${o.error})`}`;

/** Probes one handler: its runtime's features or version, combined with the kernel's. */
export async function probeHandler(
  name: string,
  cfg: HandlerConfig,
  kernel: KernelProbes,
): Promise<RuntimeHandlerInfo> {
  const binary = which(cfg.binary) ?? cfg.binary;
  const none: HandlerFeatures = {
    recursiveReadOnlyMounts: false,
    userNamespaces: false,
    idmapTmpfs: false,
  };
  const probe: HandlerProbe = { version: "", usable: false, source: "none", notes: [] };
  const info = (features: HandlerFeatures): RuntimeHandlerInfo => ({
    ...cfg,
    name,
    binary,
    features,
    probe,
  });
  if (!binary.startsWith("/")) {
    probe.version = `"${cfg.binary}" not found on PATH`;
    return info(none);
  }
  const version = await run(binary, ["--version"]);
  probe.version = version.ok
    ? version.stdout.split("\n")[0]?.trim() ?? ""
    : `${binary} --version failed: ${version.stderr.trim()}`;
  probe.usable = version.ok;
  if (!version.ok) return info(none);

  let side: RuntimeSide | undefined;
  const features = await run(binary, ["features"]);
  if (features.ok) {
    side = parseFeatures(features.stdout);
    if (side) {
      probe.source = "features";
      probe.notes.push(
        `${binary} features: rro ${side.rro ? "listed" : "not listed"}, user namespace ` +
          `${side.userns ? "listed" : "not listed"}, idmap mounts ${
            side.idmap ? "enabled" : "not enabled"
          }`,
      );
    } else probe.notes.push(`${binary} features: not valid features JSON (no OCI versions)`);
  } else {
    const [kind, v] = parseVersion(version.stdout) ?? ["", ""];
    const row = VERSION_TABLE[kind];
    if (row) {
      probe.source = "version-table";
      side = { rro: versionAtLeast(v, row.rro), userns: true, idmap: versionAtLeast(v, row.idmap) };
      probe.notes.push(
        `${binary} has no features command; ${kind} ${v} by version: rro ${
          side.rro ? "yes" : `no (needs ${row.rro})`
        }, idmap mounts ${side.idmap ? "yes" : `no (needs ${row.idmap})`}`,
      );
    } else {
      probe.notes.push(
        `${binary} has no features command and "${kind || version.stdout.trim()}" is not in ` +
          `sauropod's version table: no optional feature is assumed`,
      );
    }
  }
  probe.notes.push(note("kernel recursive read-only (mount_setattr)", kernel.recursiveReadOnly));
  probe.notes.push(note("kernel idmap of the root's filesystem", kernel.idmapRootFs));
  probe.notes.push(note("kernel idmap of tmpfs", kernel.idmapTmpfs));
  if (!SAUROPOD_USERNS) {
    probe.notes.push(
      "user namespaces: not offered: sauropod does not yet idmap image layers for a pod's rootfs",
    );
  }
  return info({
    recursiveReadOnlyMounts: (side?.rro ?? false) && kernel.recursiveReadOnly.ok,
    userNamespaces: SAUROPOD_USERNS && (side?.userns ?? false) && (side?.idmap ?? false) &&
      kernel.idmapRootFs.ok,
    idmapTmpfs: kernel.idmapTmpfs.ok,
  });
}

/** Probes every configured handler (once, at start). */
export async function probeHandlers(config: Config, log?: Logger): Promise<HandlerSet> {
  const kernel = await probeKernel(config.root, log);
  const handlers = await Promise.all(
    Object.entries(config.runtime.handlers).map(([name, h]) => probeHandler(name, h, kernel)),
  );
  for (const h of handlers) {
    log?.info("runtime handler", {
      handler: h.name,
      binary: h.binary,
      version: h.probe.version,
      source: h.probe.source,
      recursiveReadOnlyMounts: h.features.recursiveReadOnlyMounts,
      userNamespaces: h.features.userNamespaces,
    });
  }
  return new HandlerSet(handlers, config.runtime.defaultHandler);
}
