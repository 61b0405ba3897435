/**
 * sauropod under test: its layout under one directory and its `config.toml`, the same
 * settings as containerd's where both have them (runc binary, cgroupfs, sandbox image,
 * registry mirror, CNI plugin directory, log level). Pure: `runtimes.ts` runs it.
 *
 * @module
 */

/** Where the agent keeps everything, under `dir`. */
export interface SauropodLayout {
  readonly dir: string;
  readonly socket: string;
  readonly root: string;
  readonly state: string;
  /** runc's `--root` (the agent's default, `<state>/runc`). */
  readonly runcRoot: string;
  /** Per-shim state directories (`<id>/shim.pid`…). */
  readonly shims: string;
  readonly cniConfDir: string;
  readonly configPath: string;
  readonly logPath: string;
}

/**
 * The layout of an agent under `dir`, with its volatile state in `stateDir`. The state dir
 * must be short: a shim's socket is `<state>/shims/<64-hex id>/ctl`, 81 characters
 * past the state dir, and a unix socket path has at most 107 (SUN_LEN), so anything longer
 * than 26 characters fails every container start. (The default, `/run/sauropod`, is 13.)
 */
export function sauropodLayout(dir: string, stateDir: string): SauropodLayout {
  return {
    dir,
    socket: `${dir}/sauropod.sock`,
    root: `${dir}/root`,
    state: stateDir,
    runcRoot: `${stateDir}/runc`,
    shims: `${stateDir}/shims`,
    cniConfDir: `${dir}/cni`,
    configPath: `${dir}/config.toml`,
    logPath: `${dir}/sauropod.log`,
  };
}

/** Settings of the generated config. */
export interface SauropodSettings {
  readonly layout: SauropodLayout;
  readonly sandboxImage: string;
  readonly cniBinDir: string;
  readonly runcBinary: string;
  /** `host:port` of the local registry, the mirror of docker.io. */
  readonly registryHost: string;
  /** The kubelet's pod log root (`runtime.pod_logs_dir`); default `<dir>/logs`. */
  readonly podLogsDir?: string;
  readonly logLevel?: "debug" | "info" | "warn" | "error";
}

const q = (s: string): string => JSON.stringify(s);

/** The agent's `config.toml` for `s` (keys as documented in `config/schema.ts`). */
export function sauropodConfig(s: SauropodSettings): string {
  const l = s.layout;
  return [
    `socket = ${q(l.socket)}`,
    `root = ${q(l.root)}`,
    `state = ${q(l.state)}`,
    "shutdown_grace_seconds = 5",
    "",
    "[log]",
    `level = ${q(s.logLevel ?? "info")}`,
    "",
    "[runtime]",
    `binary = ${q(s.runcBinary)}`,
    // Where the bench's pods log (the kubelet's podLogsDir): the spare shim may write there.
    `pod_logs_dir = ${q(s.podLogsDir ?? `${l.dir}/logs`)}`,
    `pod_log_roots = [${q(s.podLogsDir ?? `${l.dir}/logs`)}]`,
    `root = ${q(l.runcRoot)}`,
    `cgroup_driver = "cgroupfs"`,
    "",
    "[sandbox]",
    `image = ${q(s.sandboxImage)}`,
    "",
    "[cni]",
    `conf_dir = ${q(l.cniConfDir)}`,
    `bin_dirs = [${q(s.cniBinDir)}]`,
    "",
    "[image]",
    `insecure_registries = [${q(s.registryHost)}]`,
    "",
    "[image.mirrors]",
    `"docker.io" = [${q(`http://${s.registryHost}`)}]`,
    "",
  ].join("\n");
}
