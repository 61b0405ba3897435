/**
 * containerd as the baseline: its configuration (a version 2 `config.toml`) and the
 * `hosts.toml` files of its registry mirrors, generated so that every path containerd
 * owns lives under one directory. Pure: `runtimes.ts` writes the files and runs it.
 *
 * What lands outside the directory despite the config, and how the bench deals with it:
 * containerd 1.6 puts shim sockets in `/run/containerd/s/<sha256>` whatever `state` says
 * (`runtime/v2/shim/util_unix.go`: `socketRoot` is a constant); the shims remove theirs on
 * delete, and the cleanup removes those of shims it had to kill (each bundle's `address`
 * file names the socket). libcni's result cache is `/var/lib/cni/results`, entries named
 * after the network, deleted on CNI DEL and by the cleanup otherwise.
 *
 * @module
 */

/** Where containerd keeps everything, under `dir`. */
export interface ContainerdLayout {
  readonly dir: string;
  /** The CRI (and containerd API) socket. */
  readonly socket: string;
  readonly ttrpcSocket: string;
  readonly root: string;
  readonly state: string;
  /** Temp mounts during unpack. */
  readonly tmp: string;
  /** `--root` of runc for the pods' containers. */
  readonly runcRoot: string;
  /** `runtime_root` of the legacy v1 runtime plugin (loaded, unused; kept out of /run). */
  readonly runcRootV1: string;
  readonly cniConfDir: string;
  /** `config_path` of the registry hosts (`<host>/hosts.toml`). */
  readonly certsDir: string;
  readonly configPath: string;
  readonly logPath: string;
  /** The shim bundles (each holds an `address` file naming the shim's socket). */
  readonly bundles: string;
}

/** The layout of a containerd under `dir`. */
export function containerdLayout(dir: string): ContainerdLayout {
  return {
    dir,
    socket: `${dir}/containerd.sock`,
    ttrpcSocket: `${dir}/containerd.sock.ttrpc`,
    root: `${dir}/root`,
    state: `${dir}/state`,
    tmp: `${dir}/tmp`,
    runcRoot: `${dir}/state/runc`,
    runcRootV1: `${dir}/state/runc-v1`,
    cniConfDir: `${dir}/cni`,
    certsDir: `${dir}/certs.d`,
    configPath: `${dir}/config.toml`,
    logPath: `${dir}/containerd.log`,
    bundles: `${dir}/state/io.containerd.runtime.v2.task/k8s.io`,
  };
}

/** Settings of the generated config. */
export interface ContainerdSettings {
  readonly layout: ContainerdLayout;
  /** `sandbox_image`: the pause image in the local registry. */
  readonly sandboxImage: string;
  readonly cniBinDir: string;
  /** Absolute path of runc (BinaryName). */
  readonly runcBinary: string;
  /** Log level: containerd's default is info, as sauropod's. */
  readonly logLevel?: "debug" | "info" | "warn" | "error";
}

/**
 * Plugins this machine cannot run (or that would write outside the directory): snapshotters
 * for filesystems it does not have, and `opt`, which would create `/opt/containerd`.
 * The legacy `io.containerd.runtime.v1.linux` must stay: in 1.6 the tasks service (and so
 * the CRI plugin) fails to load without it.
 */
export const DISABLED_PLUGINS = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
] as const;

const q = (s: string): string => JSON.stringify(s);
const CRI = `plugins."io.containerd.grpc.v1.cri"`;

/** The `config.toml` (version 2) for `s`. */
export function containerdConfig(s: ContainerdSettings): string {
  const l = s.layout;
  return [
    "version = 2",
    `root = ${q(l.root)}`,
    `state = ${q(l.state)}`,
    `temp = ${q(l.tmp)}`,
    // Fail at start rather than serve a containerd without CRI.
    `required_plugins = ["io.containerd.grpc.v1.cri"]`,
    `disabled_plugins = [${DISABLED_PLUGINS.map(q).join(", ")}]`,
    "",
    "[grpc]",
    `  address = ${q(l.socket)}`,
    "[ttrpc]",
    `  address = ${q(l.ttrpcSocket)}`,
    "[debug]",
    `  address = ""`,
    `  level = ${q(s.logLevel ?? "info")}`,
    "[metrics]",
    `  address = ""`,
    "",
    `[plugins."io.containerd.runtime.v1.linux"]`,
    `  runtime_root = ${q(l.runcRootV1)}`,
    "",
    `[${CRI}]`,
    `  sandbox_image = ${q(s.sandboxImage)}`,
    // No CAP_SYS_RESOURCE here: the pause container's -998 would make runc fail.
    "  restrict_oom_score_adj = true",
    // Network namespaces under `state`, not /var/run/netns.
    "  netns_mounts_under_state_dir = true",
    `  stream_server_address = "127.0.0.1"`,
    `  stream_server_port = "0"`,
    "  enable_selinux = false",
    `[${CRI}.cni]`,
    `  bin_dir = ${q(s.cniBinDir)}`,
    `  conf_dir = ${q(l.cniConfDir)}`,
    "  max_conf_num = 1",
    `[${CRI}.containerd]`,
    `  snapshotter = "overlayfs"`,
    `  default_runtime_name = "runc"`,
    `[${CRI}.containerd.runtimes.runc]`,
    `  runtime_type = "io.containerd.runc.v2"`,
    `[${CRI}.containerd.runtimes.runc.options]`,
    `  BinaryName = ${q(s.runcBinary)}`,
    `  Root = ${q(l.runcRoot)}`,
    // cgroup v1 hybrid without systemd as PID 1: the cgroupfs driver, like sauropod's default.
    "  SystemdCgroup = false",
    `[${CRI}.registry]`,
    `  config_path = ${q(l.certsDir)}`,
    "",
  ].join("\n");
}

/**
 * `hosts.toml` files (path relative to `certsDir` → content): the local registry over plain
 * http, and `docker.io` mirrored to it (pull and resolve), falling back to Docker Hub as a
 * node's config would.
 */
export function registryHosts(registryHost: string): Record<string, string> {
  const local = `http://${registryHost}`;
  return {
    [`${registryHost}/hosts.toml`]: [
      `server = ${q(local)}`,
      "",
      `[host.${q(local)}]`,
      `  capabilities = ["pull", "resolve"]`,
      "",
    ].join("\n"),
    "docker.io/hosts.toml": [
      `server = "https://registry-1.docker.io"`,
      "",
      `[host.${q(local)}]`,
      `  capabilities = ["pull", "resolve"]`,
      "",
    ].join("\n"),
  };
}
