// deno-lint-ignore-file no-console
/**
 * What a node needs beside the agent before a first pod can run, put there only when the
 * node has none: sauropod's default pod network (`deploy/cni/10-sauropod.conflist`) and
 * crictl's config (`deploy/crictl.yaml`). `deploy/install.sh` and `./run start` both go
 * through this file, so they follow one rule:
 *
 * - the default network goes into the CNI conf dir only when that directory holds no network
 *   config the agent would load (a `.conf`, `.conflist` or `.json` file, libcni's rule, which
 *   the agent's own selection follows): an operator's network is never replaced or shadowed;
 * - crictl's config is written only when the file does not exist.
 *
 *   deno run --allow-read --allow-write=DIR deploy/defaults.ts network DIR
 *   deno run --allow-read --allow-write=FILE deploy/defaults.ts crictl FILE [SOCKET]
 *       each prints, on stdout, the path it wrote (nothing when it kept what was there), and
 *       on stderr one line saying what it did
 *   deno run --allow-read --allow-write deploy/defaults.ts for-serve [serve flags...]
 *       both, for the agent `sauropod serve [serve flags...]` would run: the conf dir and the
 *       socket come from the same config file and flags (`./run start`'s use)
 *
 * @module
 */
import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/mod.ts";

/** The default network's file name: lexically early, as the install step always named it. */
export const DEFAULT_NETWORK_FILE = "10-sauropod.conflist";
/** The default crictl config's path. */
export const CRICTL_CONFIG = "/etc/crictl.yaml";
/** The socket `deploy/crictl.yaml` names. */
export const DEFAULT_SOCKET = "/run/sauropod/sauropod.sock";

const TEMPLATES = {
  network: new URL(`./cni/${DEFAULT_NETWORK_FILE}`, import.meta.url),
  crictl: new URL("./crictl.yaml", import.meta.url),
};

/** File name extensions of CNI network configs (libcni's `ConfFiles`). */
const CONF_EXTENSIONS = [".conf", ".conflist", ".json"];

/** What a step did: wrote `path`, or kept what was there (`path` is then the file kept). */
export interface Outcome {
  readonly wrote: boolean;
  readonly path: string;
  /** One line for the operator. */
  readonly message: string;
}

/**
 * The network configs in `confDir` the agent would consider, in the order it considers them
 * (regular files named `<something>.conf|.conflist|.json`); empty when the directory is
 * missing.
 */
export async function networkConfigs(confDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(confDir)) {
      if (e.isDirectory) continue;
      if (CONF_EXTENSIONS.some((x) => e.name.endsWith(x) && e.name.length > x.length)) {
        names.push(e.name);
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Installs the default network into `confDir` (created 0755 if missing) unless it has one. */
export async function defaultNetwork(confDir: string): Promise<Outcome> {
  const dir = confDir.replace(/(.)\/+$/, "$1");
  const present = await networkConfigs(dir);
  if (present.length > 0) {
    return {
      wrote: false,
      path: `${dir}/${present[0]}`,
      message: `pod network: keeping the network configured in ${dir} (${present[0]})`,
    };
  }
  const path = `${dir}/${DEFAULT_NETWORK_FILE}`;
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFile(path, await Deno.readTextFile(TEMPLATES.network));
  return {
    wrote: true,
    path,
    message: `pod network: ${dir} had no network config, so sauropod's default is installed: ` +
      `${path} (bridge sauropod0, 10.88.0.0/16; a file of yours there takes over, ` +
      `see deploy/cni/README.md)`,
  };
}

/** Writes crictl's config at `path`, pointing at `socket`, unless the file exists. */
export async function crictlConfig(path: string, socket = DEFAULT_SOCKET): Promise<Outcome> {
  try {
    const text = await Deno.readTextFile(path);
    const endpoint = /^runtime-endpoint:\s*["']?([^"'\s#]+)/m.exec(text)?.[1];
    const ours = `unix://${socket}`;
    return {
      wrote: false,
      path,
      message: `crictl: keeping ${path}` +
        (endpoint === ours
          ? ` (${endpoint})`
          : endpoint
          ? `: it points crictl at ${endpoint}, not at this agent (use crictl --runtime-endpoint ${ours})`
          : `: it names no runtime-endpoint (use crictl --runtime-endpoint ${ours})`),
    };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const template = await Deno.readTextFile(TEMPLATES.crictl);
  const text = template.replaceAll(`unix://${DEFAULT_SOCKET}`, `unix://${socket}`);
  await writeFile(path, text);
  return { wrote: true, path, message: `crictl: wrote ${path} (unix://${socket})` };
}

/** Writes `text` to `path` (mode 0644) through a temporary file, so no reader sees half. */
async function writeFile(path: string, text: string): Promise<void> {
  const tmp = `${path}.sauropod-tmp`;
  await Deno.writeTextFile(tmp, text, { mode: 0o644 });
  try {
    await Deno.chmod(tmp, 0o644);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** The config file and socket `sauropod serve <args>` would use. */
export function serveTarget(args: readonly string[]): {
  configPath: string;
  explicit: boolean;
  socket?: string;
} {
  let configPath: string | undefined;
  let socket: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [
      a,
      undefined,
    ];
    if (flag === "-c" || flag === "--config" || flag === "--socket") {
      const value = inline ?? args[++i];
      if (value === undefined) throw new Error(`${flag} needs a value`);
      if (flag === "--socket") socket = value;
      else configPath = value;
    }
  }
  return {
    configPath: configPath ?? DEFAULT_CONFIG_PATH,
    explicit: configPath !== undefined,
    ...(socket !== undefined ? { socket } : {}),
  };
}

/** Both steps for the agent that `sauropod serve <args>` would run. */
export async function forServe(
  args: readonly string[],
  crictlPath = CRICTL_CONFIG,
): Promise<Outcome[]> {
  const t = serveTarget(args);
  const config = await loadConfig({
    path: t.configPath,
    explicit: t.explicit,
    overrides: t.socket !== undefined ? { socket: t.socket } : {},
  });
  return [await defaultNetwork(config.cni.confDir), await crictlConfig(crictlPath, config.socket)];
}

async function main(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  let outcomes: Outcome[];
  if (what === "network" && rest.length === 1) {
    outcomes = [await defaultNetwork(rest[0]!)];
  } else if (what === "crictl" && (rest.length === 1 || rest.length === 2)) {
    outcomes = [await crictlConfig(rest[0]!, rest[1])];
  } else if (what === "for-serve") {
    // `./run start --help` shows serve's help; it puts nothing on the node.
    if (rest.some((a) => ["-h", "--help", "-v", "--version"].includes(a))) return 0;
    outcomes = await forServe(rest);
  } else {
    console.error(
      "usage: defaults.ts network DIR | crictl FILE [SOCKET] | for-serve [serve flags...]",
    );
    return 2;
  }
  for (const o of outcomes) {
    console.error(`sauropod: ${o.message}`);
    if (o.wrote) console.log(o.path);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`sauropod: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
