/**
 * CNI network configuration: finding the file in the conf dir, parsing and validating it,
 * and noticing when it changes.
 *
 * Selection follows containerd's go-cni with `max_conf_num = 1`: the lexically first
 * `.conf`, `.conflist` or `.json` file decides. A broken first file makes the network not
 * ready (it is not skipped in favour of the next one): an operator who drops a typo in
 * `10-mynet.conflist` should see that error, not a silent fallback to `99-loopback.conf`.
 *
 * @module
 */
import { failedPrecondition } from "../errors/mod.ts";

/** Spec versions whose results this runtime understands (CNI 0.1.0 to 1.1.0). */
export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

/** File name extensions of network configs (libcni's `ConfFiles`). */
export const CONF_EXTENSIONS = [".conf", ".conflist", ".json"];

/** One plugin's configuration object, passed through to the plugin nearly unchanged. */
export type PluginConf = Readonly<Record<string, unknown>> & { readonly type: string };

/** A validated network configuration list. */
export interface NetworkConfList {
  readonly name: string;
  readonly cniVersion: string;
  readonly disableCheck: boolean;
  readonly plugins: readonly PluginConf[];
  /** The file it came from. */
  readonly source: string;
}

/** The state of the conf dir, as {@link ConfDir.load} sees it. */
export type ConfState =
  | { readonly kind: "ready"; readonly list: NetworkConfList }
  | { readonly kind: "missing"; readonly message: string }
  | { readonly kind: "invalid"; readonly file: string; readonly message: string };

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** The candidate config files among `names`, in the order they are considered. */
export function configCandidates(names: readonly string[]): string[] {
  return names
    .filter((n) => CONF_EXTENSIONS.some((ext) => n.endsWith(ext) && n.length > ext.length))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Compares two `x.y.z` versions; a malformed version sorts lowest. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) return pa ? 1 : pb ? -1 : 0;
  for (let i = 0; i < 3; i++) {
    const d = pa[i]! - pb[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * Parses a network config file. A `.conflist` must be a list; a `.conf`/`.json` holding a
 * single plugin is wrapped into a one-plugin list (libcni's `ConfListFromConf`), and one
 * that already holds `plugins` is read as a list. Throws failed-precondition naming the
 * file and the problem.
 */
export function parseNetworkConfig(text: string, source: string): NetworkConfList {
  const bad = (msg: string) => failedPrecondition(`CNI config ${source}: ${msg}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw bad(`not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(raw)) throw bad("must be a JSON object");
  const isList = source.endsWith(".conflist") || "plugins" in raw;
  if (source.endsWith(".conflist") && !("plugins" in raw)) {
    throw bad('a .conflist needs a "plugins" list');
  }

  const cniVersion = pickVersion(raw, bad);
  const name = raw["name"];
  if (typeof name !== "string" || name === "") throw bad('"name" must be a non-empty string');
  if (!NAME_RE.test(name)) {
    throw bad(
      `"name" ${JSON.stringify(name)} must start with a letter or digit and contain only ` +
        "letters, digits, '_', '.' and '-'",
    );
  }

  let pluginsRaw: unknown[];
  if (isList) {
    const p = raw["plugins"];
    if (!Array.isArray(p)) throw bad('"plugins" must be a list');
    if (p.length === 0) throw bad('"plugins" is empty');
    pluginsRaw = p;
  } else {
    pluginsRaw = [raw];
  }
  const plugins = pluginsRaw.map((p, i) => {
    const where = isList ? `plugins[${i}]` : "the config";
    if (!isObject(p)) throw bad(`${where} must be an object`);
    const type = p["type"];
    if (typeof type !== "string" || type === "") {
      throw bad(`${where} needs a "type" naming the plugin binary`);
    }
    if (type.includes("/") || type === "." || type === "..") {
      throw bad(`${where}: plugin type ${JSON.stringify(type)} must be a plain file name`);
    }
    return p as PluginConf;
  });
  const disableCheck = raw["disableCheck"];
  return {
    name,
    cniVersion,
    disableCheck: disableCheck === true || disableCheck === "true",
    plugins,
    source,
  };
}

function pickVersion(raw: Record<string, unknown>, bad: (m: string) => Error): string {
  // CNI 1.1 lets a list offer several versions; like libcni, use the highest we speak.
  const versions = raw["cniVersions"];
  if (versions !== undefined) {
    if (!Array.isArray(versions) || !versions.every((v) => typeof v === "string")) {
      throw bad('"cniVersions" must be a list of strings');
    }
    const usable = versions.filter((v) => SUPPORTED_VERSIONS.includes(v));
    if (usable.length > 0) return usable.sort(compareVersions).at(-1)!;
    throw bad(`none of "cniVersions" ${JSON.stringify(versions)} is supported`);
  }
  const v = raw["cniVersion"];
  if (typeof v !== "string" || v === "") throw bad('"cniVersion" must be a non-empty string');
  if (!SUPPORTED_VERSIONS.includes(v)) {
    throw bad(
      `cniVersion ${JSON.stringify(v)} is not supported (${SUPPORTED_VERSIONS.join(", ")})`,
    );
  }
  return v;
}

/**
 * The plugins actually run: the list's own, plus a trailing `loopback` when it has none, so
 * every pod's `lo` is up whatever CNI the node runs (containerd's go-cni and CRI-O's ocicni
 * always attach a loopback network too). Placed last, it passes `prevResult` through.
 */
export function effectivePlugins(list: NetworkConfList): PluginConf[] {
  if (list.plugins.some((p) => p.type === "loopback")) return [...list.plugins];
  return [...list.plugins, { type: "loopback" }];
}

/**
 * The conf dir, read on demand. Each {@link load} lists the directory and stats the first
 * candidate; the file is parsed again only when its name, size, mtime or inode changed.
 * That makes a change take effect at the next call without a watcher to keep alive.
 */
export class ConfDir {
  readonly #dir: string;
  #fingerprint = "";
  #state: ConfState | undefined;

  /** Watches `dir` (it may not exist yet). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The directory. */
  get dir(): string {
    return this.#dir;
  }

  /** The current state of the directory; cheap when nothing changed. */
  async load(): Promise<ConfState> {
    let names: string[];
    try {
      names = [];
      for await (const e of Deno.readDir(this.#dir)) {
        if (e.isFile || e.isSymlink) names.push(e.name);
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        return this.#remember("missing", {
          kind: "missing",
          message: `no network config found in ${this.#dir} (the directory does not exist)`,
        });
      }
      return this.#remember(`error:${String(err)}`, {
        kind: "invalid",
        file: this.#dir,
        message: `cannot read CNI config directory ${this.#dir}: ${
          err instanceof Error ? err.message : String(err)
        }`,
      });
    }
    for (const name of configCandidates(names)) {
      const path = `${this.#dir}/${name}`;
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(path);
      } catch {
        continue; // A dangling symlink, or removed since the listing.
      }
      if (!info.isFile) continue;
      const fp = `${name}:${info.size}:${info.mtime?.getTime()}:${info.ino}`;
      if (fp === this.#fingerprint && this.#state) return this.#state;
      let state: ConfState;
      try {
        const list = parseNetworkConfig(await Deno.readTextFile(path), path);
        state = { kind: "ready", list };
      } catch (err) {
        state = {
          kind: "invalid",
          file: path,
          message: err instanceof Error ? err.message : String(err),
        };
      }
      return this.#remember(fp, state);
    }
    return this.#remember("none", {
      kind: "missing",
      message: `no network config found in ${this.#dir}`,
    });
  }

  #remember(fingerprint: string, state: ConfState): ConfState {
    this.#fingerprint = fingerprint;
    this.#state = state;
    return state;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
