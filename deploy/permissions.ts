// deno-lint-ignore-file no-console
/**
 * The Deno permission sets of the agent and the shim, with the reason for every grant.
 * deno.json cannot carry comments, so this is the source: `deno.json`'s `"permissions"`
 * is rendered from it, and a test fails when the two drift.
 *
 *   deno run --allow-read --allow-write=deno.json deploy/permissions.ts --write
 *   deno run --allow-read deploy/permissions.ts --check
 *
 * What Deno 2.9.6 can and cannot scope (measured here) decides the shape:
 *
 * - `/proc`, `/sys`, `/dev` are served only to `--allow-all`, whatever `--allow-read` says,
 *   and `--allow-all` cannot be combined with `--deny-*`. Those paths go through
 *   `ffi/kernfs.ts`, which serves exactly the kernel interfaces sauropod uses.
 * - FFI: any pointer read (`Deno.UnsafePointerView`, needed for every errno) requires the
 *   unscoped `--allow-ffi`; a scoped one also opens the library by a cwd-resolved path. So
 *   `ffi` is granted whole. It is also total power in itself (Deno says so): the sets
 *   below guard against mistakes in sauropod and its dependencies — a path that escapes,
 *   an unexpected program — not against code that calls libc on purpose.
 * - `Deno.kill` requires the unscoped `--allow-run`; signals go through `ffi/process.ts`.
 * - `--allow-run` takes programs, not directories: every CNI plugin is listed by path.
 * - `net`: a unix socket is a `unix:<path>` descriptor matched exactly (no directories),
 *   and image pulls reach whatever registry an image names. So `net` is whole too.
 * - CLI flags replace a set's entry of the same kind instead of adding to it, so tests use
 *   their own set (`agent-test`) rather than `-P=agent --allow-write=/tmp`.
 *
 * @module
 */

/** One permission, as deno.json's `"permissions"` spells it. */
export type Grant = boolean | string[];

/** A named permission set (`deno run -P=<name>`). */
export interface PermissionSet {
  read?: Grant;
  write?: Grant;
  run?: Grant;
  env?: Grant;
  net?: Grant;
  sys?: Grant;
  ffi?: Grant;
}

/** Where sauropod and what it runs live on a node. */
export interface NodeLayout {
  /** Persistent state (`root` in config.toml). */
  root: string;
  /** Volatile state: CRI socket, shims, pinned namespaces, runc's root (`state`). */
  state: string;
  /** The kubelet's pod log directories, where shims write container logs. */
  podLogs: string;
  /** cgroupfs: the agent removes the pod cgroups it made (creation goes through kernfs). */
  cgroupfs: string;
  /** CNI plugin directories (`cni.bin_dirs`). */
  cniBinDirs: string[];
  /** OCI runtimes by name or path (`runtime.binary`). */
  runtimes: string[];
  /** Where `Deno.execPath()` is when Deno comes from npm: the agent starts shims with it. */
  deno: string[];
  /** AppArmor's parser (Debian's `apparmor`), which loads sauropod's default profile. */
  apparmorParser: string[];
}

/** The layout of an installed node (config.toml defaults, Debian's packages, npm's Deno). */
export const NODE_LAYOUT: NodeLayout = {
  root: "/var/lib/sauropod",
  state: "/run/sauropod",
  podLogs: "/var/log/pods",
  cgroupfs: "/sys/fs/cgroup",
  cniBinDirs: ["/opt/cni/bin", "/usr/lib/cni"],
  // crun by its Debian path: a bare name Deno cannot resolve (crun not installed) makes every
  // `deno run -P=agent` print an "Info Failed to resolve" line.
  runtimes: ["runc", "/usr/bin/crun"],
  deno: ["/usr/lib/node_modules/deno/deno", "/usr/local/lib/node_modules/deno/deno"],
  // By path, as the agent runs it (lsm/mod.ts): absent on a node without AppArmor.
  apparmorParser: ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"],
};

/**
 * The plugins of containernetworking/plugins 1.x (Debian's containernetworking-plugins).
 * A third-party plugin (Calico, Cilium, Flannel…) must be added here; `sauropod check`
 * reports a configured plugin the agent may not run.
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

/**
 * The agent: reads anything (a CRI mount or device names any host path, which the agent
 * must inspect), writes only its own directories and cgroupfs, runs only the OCI runtime
 * (`--version`, the readiness probe: containers are run by the shims, and deleted by the
 * shim program's `delete` when their shim is gone), the CNI plugins, util-linux's
 * `unshare`/`nsenter` (pinned namespaces, interface counters), `apparmor_parser` (sauropod's
 * default AppArmor profile) and Deno itself (one shim per container, started with
 * `Deno.Command` so that Deno reaps it; and `deno bundle` of the shim at start). `unshare`,
 * `nsenter`, Deno, the OCI runtime, `apparmor_parser` and cgroupfs writes are each
 * root-equivalent, as FFI is: README's "Permissions" says what the set guards against and
 * what it does not.
 */
export function agentSet(l: NodeLayout): PermissionSet {
  return {
    read: true,
    write: [l.root, l.state, l.podLogs, l.cgroupfs],
    run: [
      ...l.runtimes,
      "unshare",
      "nsenter",
      ...l.apparmorParser,
      ...l.deno,
      ...l.cniBinDirs.flatMap((d) => CNI_PLUGINS.map((p) => `${d}/${p}`)),
    ],
    env: [...AGENT_ENV],
    // Registries are whatever host an image names; unix sockets cannot be scoped by directory.
    net: true,
    // hostname: pods on the host network see the node's; uid: the preflight's root check.
    sys: ["hostname", "uid"],
    ffi: true,
  };
}

/**
 * A shim: supervises one container. It reads and writes only the state directory (its
 * socket, pid and exit files, runc's log), writes container logs, and runs nothing but the
 * OCI runtime. No environment, no system facts. Each shim actually starts with flags for
 * its own container (shim/client/_argv.ts: its state dir, its log directory, its runtime
 * binary, its socket), which this set bounds for a node's layout.
 */
export function shimSet(l: NodeLayout): PermissionSet {
  return {
    read: [l.state],
    write: [l.state, l.podLogs],
    run: [...l.runtimes],
    // It listens on its control socket only; `unix:` cannot be scoped to the state directory.
    net: true,
    ffi: true,
  };
}

/** Every set deno.json holds, by name. */
export function permissionSets(): Record<string, PermissionSet> {
  return {
    agent: agentSet(NODE_LAYOUT),
    // The end-to-end tests' agents keep root, state, logs and CNI configs under /tmp.
    "agent-test": {
      ...agentSet(NODE_LAYOUT),
      write: [...grantList(agentSet(NODE_LAYOUT).write), "/tmp"],
    },
    shim: shimSet(NODE_LAYOUT),
  };
}

function grantList(g: Grant | undefined): string[] {
  return Array.isArray(g) ? g : [];
}

/**
 * `text` (deno.json) with its `"permissions"` object replaced by `sets`, everything else
 * byte for byte as it was.
 */
export function withPermissions(text: string, sets: Record<string, PermissionSet>): string {
  const key = text.indexOf('\n  "permissions": {');
  if (key < 0) throw new Error('deno.json has no top-level "permissions" object');
  const open = text.indexOf("{", key);
  let depth = 0;
  let end = open;
  for (; end < text.length; end++) {
    const c = text[end];
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) break;
  }
  const body = JSON.stringify(sets, null, 2).replaceAll("\n", "\n  ");
  return text.slice(0, open) + body + text.slice(end + 1);
}

/** The `"permissions"` of a deno.json text. */
export function readPermissions(text: string): Record<string, PermissionSet> {
  return (JSON.parse(text) as { permissions?: Record<string, PermissionSet> }).permissions ?? {};
}

if (import.meta.main) {
  const path = new URL("../deno.json", import.meta.url);
  const text = await Deno.readTextFile(path);
  const want = withPermissions(text, permissionSets());
  if (Deno.args[0] === "--write") {
    await Deno.writeTextFile(path, want);
  } else if (Deno.args[0] === "--check") {
    if (text !== want) {
      console.error("deno.json permissions are stale: deno run -A deploy/permissions.ts --write");
      Deno.exit(1);
    }
  } else {
    console.log(JSON.stringify(permissionSets(), null, 2));
  }
}
