/**
 * The agent's Deno permissions, computed from its effective configuration.
 *
 * `sauropod serve` (and `check`) start under deno.json's small `agent` set, load the
 * configuration, compute the grants below and re-exec themselves under exactly those
 * (`app/reexec.ts`): a config that moves the state to `/data` or lets pods log under `/tmp`
 * is served without anyone editing deno.json or the unit's command line.
 *
 * What Deno 2.9.6 can and cannot scope (measured) decides the shape:
 *
 * - `/proc`, `/sys`, `/dev` are served only to `--allow-all`: those go through
 *   `ffi/kernfs.ts`, whatever `--allow-read` says.
 * - FFI: any pointer read (every errno) needs the unscoped `--allow-ffi`, which is total
 *   power in itself (Deno says so). The grants guard against mistakes in sauropod and its
 *   dependencies (a path that escapes, an unexpected program), not against code that calls
 *   libc on purpose.
 * - `--allow-run` takes programs, not directories: every CNI plugin is listed by path.
 * - `net` stays whole: an image reference names any registry host (a mirror list is a
 *   preference, not a bound), and a unix socket is a `unix:<path>` descriptor matched
 *   exactly, so the shims' sockets under the state directory cannot be granted as a
 *   directory.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { invalidArgument } from "../errors/mod.ts";
import { parseListenAddress } from "../lib/listen_address.ts";

/**
 * The plugins of containernetworking/plugins 1.x (Debian's containernetworking-plugins),
 * granted in every `cni.bin_dirs` directory even when not installed yet; whatever else a
 * bin dir holds when the agent starts (Calico, Cilium, Flannel…) is granted too.
 */
export const CNI_PLUGINS = [
  "bandwidth",
  "bridge",
  "dhcp",
  "dummy",
  "firewall",
  "host-device",
  "host-local",
  "ipvlan",
  "loopback",
  "macvlan",
  "portmap",
  "ptp",
  "sbr",
  "static",
  "tap",
  "tuning",
  "vlan",
  "vrf",
] as const;

/** Environment variables the agent reads; every other one stays closed. */
export const AGENT_ENV = [
  // Resolving runc, unshare and nsenter like exec(3) does.
  "PATH",
  // Handed to shims so they find Deno's cache instead of recompiling.
  "HOME",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  // systemd's Type=notify protocol (app/notify.ts), read once and removed.
  "NOTIFY_SOCKET",
  "WATCHDOG_USEC",
  "WATCHDOG_PID",
  // npm:yaml (CDI spec files) reads these two debug switches on every parse; without the
  // grant the read throws NotCapable and no YAML spec could be loaded.
  "LOG_TOKENS",
  "LOG_STREAM",
] as const;

/** Helper programs the agent runs besides the OCI runtime, CNI plugins and Deno. */
const TOOLS = ["unshare", "nsenter"] as const;
/** AppArmor's parser by path, as lsm/ runs it: absent on a node without AppArmor. */
const APPARMOR_PARSER = ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"] as const;
/** cgroupfs: the agent removes the pod cgroups it made (creation goes through kernfs). */
const CGROUPFS = "/sys/fs/cgroup";

/** The agent's grants, one entry per Deno permission kind. */
export interface AgentGrants {
  /** A CRI mount or device names any host path, which the agent must inspect. */
  readonly read: true;
  readonly write: readonly string[];
  readonly run: readonly string[];
  readonly env: readonly string[];
  readonly net: true;
  /** hostname: pods on the host network see the node's; uid: the preflight's root check. */
  readonly sys: readonly string[];
  readonly ffi: true;
}

/** What the grants depend on besides the config: the node's files, read at start. */
export interface HostFacts {
  /** The Deno binary (`Deno.execPath()`): the agent starts one shim per container with it. */
  readonly deno: string;
  /** A program's path on PATH (or an absolute path that exists), else undefined. */
  which(name: string): string | undefined;
  /** The regular files of `dir` (names), empty when it does not exist. */
  listDir(dir: string): readonly string[];
}

/** The OCI runtimes the agent may run: every runtime handler's binary. */
export function runtimeBinaries(config: Config): Array<{ key: string; binary: string }> {
  return Object.entries(config.runtime.handlers).map(([name, h]) => ({
    key: `runtime.handlers.${name}.binary`,
    binary: h.binary,
  }));
}

/**
 * The directories the agent writes, each with the key that names it: its persistent and
 * volatile state, the socket's directory, the OCI runtime's state, the pod log roots
 * (shims write container logs there; the agent makes and reopens them) and cgroupfs.
 */
export function writableDirs(config: Config): Array<{ key: string; dir: string }> {
  const socketDir = config.socket.slice(0, config.socket.lastIndexOf("/")) || "/";
  return [
    { key: "root", dir: config.root },
    { key: "state", dir: config.state },
    { key: "socket", dir: socketDir },
    ...Object.entries(config.runtime.handlers).map(([name, h]) => ({
      key: `runtime.handlers.${name}.root`,
      dir: h.root,
    })),
    ...config.runtime.podLogRoots.map((dir) => ({ key: "runtime.pod_log_roots", dir })),
    ...config.runtime.checkpointRoots.map((dir) => ({ key: "runtime.checkpoint_roots", dir })),
    ...metricsSocketDir(config),
    { key: "(cgroupfs)", dir: CGROUPFS },
  ];
}

/** The directory of a unix socket `[metrics] address` (the agent makes and removes it). */
function metricsSocketDir(config: Config): Array<{ key: string; dir: string }> {
  const a = parseListenAddress(config.metrics.address);
  if (typeof a === "string" || a.kind !== "unix") return [];
  return [{ key: "metrics.address", dir: a.path.slice(0, a.path.lastIndexOf("/")) || "/" }];
}

/** Computes the agent's grants for `config` on a node described by `host`. */
export function agentGrants(config: Config, host: HostFacts): AgentGrants {
  const write = unique(writableDirs(config).map(({ key, dir }) => listable(dir, key)));
  const run: string[] = [];
  for (const { key, binary } of runtimeBinaries(config)) {
    const path = host.which(binary);
    // Absent: the agent reports the runtime not ready; Deno would print a line per name
    // it cannot resolve.
    if (path) run.push(listable(path, key));
  }
  for (const tool of TOOLS) {
    const path = host.which(tool);
    if (path) run.push(path);
  }
  for (const p of APPARMOR_PARSER) if (host.which(p)) run.push(p);
  // CRIU, probed (`criu check`) before checkpoint/restore is offered; absent on most nodes.
  const criu = host.which("criu");
  if (criu) run.push(criu);
  run.push(listable(host.deno, "Deno.execPath()"));
  for (const dir of config.cni.binDirs) {
    const d = listable(dir.replace(/\/+$/, ""), "cni.bin_dirs");
    for (const name of new Set([...CNI_PLUGINS, ...host.listDir(d)])) {
      if (!name.includes(",")) run.push(`${d}/${name}`);
    }
  }
  return {
    read: true,
    write,
    run: unique(run),
    env: [...AGENT_ENV],
    net: true,
    sys: ["hostname", "uid"],
    ffi: true,
  };
}

/** The `deno run` flags that grant exactly `g`. */
export function permissionFlags(g: AgentGrants): string[] {
  return [
    "--allow-read",
    `--allow-write=${g.write.join(",")}`,
    `--allow-run=${g.run.join(",")}`,
    `--allow-env=${g.env.join(",")}`,
    "--allow-net",
    `--allow-sys=${g.sys.join(",")}`,
    "--allow-ffi",
  ];
}

/** The node as it is now. */
export function hostFacts(which: (name: string) => string | undefined): HostFacts {
  return {
    deno: Deno.execPath(),
    which,
    listDir: (dir) => {
      try {
        return [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name).sort();
      } catch {
        return [];
      }
    },
  };
}

/** Deno's permission lists are comma-separated: a path with a comma cannot be granted. */
function listable(path: string, key: string): string {
  if (path.includes(",")) {
    throw invalidArgument(
      `"${key}" ${JSON.stringify(path)} contains a comma, which Deno's permission flags ` +
        `cannot express: choose a path without one`,
    );
  }
  return path;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
