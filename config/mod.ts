/**
 * Configuration: built-in defaults, overridden by the TOML file, overridden by flags.
 *
 * Validation happens once, at load: an unknown key or a bad value is an error that names
 * the key, so a typo never surfaces hours later as odd behaviour.
 *
 * @module
 */
import { parse as parseToml } from "smol-toml";
import { invalidArgument, wrap } from "../errors/mod.ts";
import type { Level, LogFormat } from "../log/mod.ts";
import { type FieldSpec, HANDLER_SCHEMA, isTable, SCHEMA, type TableSpec } from "./schema.ts";
import { compileGlob } from "../lib/glob.ts";
import { parseListenAddress } from "../lib/listen_address.ts";

export { SCHEMA } from "./schema.ts";

/** Credentials for one registry host. */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64 of `user:password`, as in a docker config.json. */
  auth?: string;
  identityToken?: string;
  registryToken?: string;
}

/** One runtime handler (`[runtime.handlers.<name>]`), resolved: every field filled. */
export interface HandlerConfig {
  /** OCI runtime binary, a name on PATH or an absolute path. */
  binary: string;
  /** `--root` of the runtime. */
  root: string;
  /** Extra global flags before each command. */
  options: string[];
  /** Glob patterns (Go's path.Match) of pod annotations passed into OCI specs. */
  podAnnotations: string[];
  /** Glob patterns of container annotations passed into the container's OCI spec. */
  containerAnnotations: string[];
}

/** The effective configuration, typed. Field docs live in `config/schema.ts`. */
export interface Config {
  socket: string;
  socketGroup: string;
  root: string;
  state: string;
  shutdownGraceSeconds: number;
  log: { level: Level; format: LogFormat };
  runtime: {
    binary: string;
    root: string;
    cgroupDriver: "cgroupfs" | "systemd";
    restrictOomScoreAdj: "auto" | "true" | "false";
    callTimeoutSeconds: number;
    /** Glob patterns (Go's path.Match) of pod annotations passed into OCI specs. */
    podAnnotations: string[];
    /** Glob patterns of container annotations passed into the container's OCI spec. */
    containerAnnotations: string[];
    podLogsDir: string;
    /** Directories pods may log under (RunPodSandbox's log_directory). */
    podLogRoots: string[];
    /** Directories checkpoint archives may be written under. */
    checkpointRoots: string[];
    /** The handler of a pod that names none; always one of `handlers` once resolved. */
    defaultHandler: string;
    /**
     * Every handler by name. Without `[runtime.handlers.*]` tables in the file, the one
     * handler made from `binary`, `root` and the annotation keys, named after the binary.
     */
    handlers: Record<string, HandlerConfig>;
  };
  sandbox: { image: string };
  cni: { confDir: string; binDirs: string[]; pluginTimeoutSeconds: number };
  image: {
    maxConcurrentDownloads: number;
    pullProgressTimeoutSeconds: number;
    insecureRegistries: string[];
    mirrors: Record<string, string[]>;
    auths: Record<string, RegistryAuth>;
  };
  stream: {
    address: string;
    port: number;
    tokenTtlSeconds: number;
    idleTimeoutSeconds: number;
    headTimeoutSeconds: number;
    maxConnections: number;
    maxConnectionsPerSource: number;
    maxUnauthenticatedConnections: number;
  };
  limits: {
    maxRecvMessageBytes: number;
    maxSendMessageBytes: number;
    maxConcurrentCalls: number;
    execSyncOutputBytes: number;
  };
  cdi: { specDirs: string[] };
  stats: { collectPeriodSeconds: number };
  metrics: { address: string; allowNonLoopback: boolean };
  debug: { faultPoints: string[] };
}

/** Overrides as dotted snake_case keys, e.g. `{ "runtime.binary": "crun" }` (from flags). */
export type Overrides = Record<string, unknown>;

/** The default path of the config file. */
export const DEFAULT_CONFIG_PATH = "/etc/sauropod/config.toml";

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Validates a raw TOML-shaped object against the schema, filling defaults.
 * `source` names where the values came from, for error messages.
 */
export function resolveConfig(raw: Record<string, unknown>, source: string): Config {
  const cfg = resolveTable(SCHEMA, raw, "", source) as unknown as Config;
  resolveHandlers(cfg, raw, source);
  return cfg;
}

/** A RuntimeClass handler name: a DNS label (what the Kubernetes API accepts). */
const HANDLER_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The keys of [runtime] that describe the one handler of a config without handler tables. */
const LEGACY_HANDLER_KEYS = ["binary", "root", "pod_annotations", "container_annotations"];

/**
 * Fills `runtime.handlers` and `runtime.defaultHandler`: the tables as written (binary and
 * root defaulted from the name), or, without tables, one handler made from the legacy keys
 * of [runtime] and named after its binary, as sauropod served it before handlers existed.
 * Mixing the two is refused, naming the key, rather than one silently winning.
 */
function resolveHandlers(cfg: Config, raw: Record<string, unknown>, source: string): void {
  const rt = cfg.runtime;
  if (rt.root === "") rt.root = `${cfg.state}/runc`;
  const rawRuntime = isPlainObject(raw.runtime) ? raw.runtime : {};
  const tables = Object.keys(rt.handlers);
  if (tables.length === 0) {
    const name = rt.binary.split("/").pop() ?? "";
    if (!HANDLER_NAME.test(name)) {
      throw invalidArgument(
        `${source}: "runtime.binary" ${JSON.stringify(rt.binary)} does not end in a name ` +
          `usable as a runtime handler (a DNS label); declare [runtime.handlers.<name>] instead`,
      );
    }
    rt.handlers = {
      [name]: {
        binary: rt.binary,
        root: rt.root,
        options: [],
        podAnnotations: rt.podAnnotations,
        containerAnnotations: rt.containerAnnotations,
      },
    };
  } else {
    for (const key of LEGACY_HANDLER_KEYS) {
      if (key in rawRuntime) {
        throw invalidArgument(
          `${source}: "runtime.${key}" cannot be used together with [runtime.handlers.*] ` +
            `tables: set ${key} in each handler's table`,
        );
      }
    }
    for (const [name, h] of Object.entries(rt.handlers)) {
      if (h.binary === "") h.binary = name;
      if (h.root === "") h.root = `${cfg.state}/runtimes/${name}`;
    }
  }
  const names = Object.keys(rt.handlers);
  if (rt.defaultHandler === "") {
    if (names.length > 1) {
      throw invalidArgument(
        `${source}: "runtime.default_handler" must name one of the handlers ` +
          `(${names.map((n) => `"${n}"`).join(", ")}) when there are several`,
      );
    }
    rt.defaultHandler = names[0]!;
  } else if (!(rt.defaultHandler in rt.handlers)) {
    throw invalidArgument(
      `${source}: "runtime.default_handler" ${JSON.stringify(rt.defaultHandler)} is not a ` +
        `configured handler (${names.map((n) => `"${n}"`).join(", ")})`,
    );
  }
}

function resolveTable(
  spec: TableSpec,
  raw: Record<string, unknown>,
  prefix: string,
  source: string,
): Record<string, unknown> {
  for (const key of Object.keys(raw)) {
    if (!(key in spec.fields)) {
      const hint = suggest(key, Object.keys(spec.fields));
      throw invalidArgument(
        `${source}: unknown key "${prefix}${key}"${
          hint ? ` (did you mean "${prefix}${hint}"?)` : ""
        }`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(spec.fields)) {
    const name = `${prefix}${key}`;
    const value = raw[key];
    if (isTable(sub)) {
      if (value !== undefined && !isPlainObject(value)) {
        throw invalidArgument(`${source}: "${name}" must be a table`);
      }
      out[camel(key)] = resolveTable(
        sub,
        (value ?? {}) as Record<string, unknown>,
        `${name}.`,
        source,
      );
    } else {
      out[camel(key)] = value === undefined
        ? structuredClone(sub.default)
        : check(sub, value, name, source);
    }
  }
  return out;
}

function check(spec: FieldSpec, v: unknown, name: string, source: string): unknown {
  const bad = (want: string): never => {
    throw invalidArgument(`${source}: "${name}" must be ${want}, got ${JSON.stringify(v)}`);
  };
  const t = spec.type;
  switch (t.kind) {
    case "string":
      return typeof v === "string" ? v : bad("a string");
    case "bool":
      return typeof v === "boolean" ? v : bad("true or false");
    case "int": {
      const n = typeof v === "bigint" ? Number(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n)) return bad("an integer");
      if (t.min !== undefined && n < t.min) return bad(`at least ${t.min}`);
      if (t.max !== undefined && n > t.max) return bad(`at most ${t.max}`);
      return n;
    }
    case "enum":
      if (typeof v === "boolean" && t.values.includes(String(v))) return String(v);
      return typeof v === "string" && t.values.includes(v)
        ? v
        : bad(`one of ${t.values.map((x) => `"${x}"`).join(", ")}`);
    case "string-list":
      return Array.isArray(v) && v.every((x) => typeof x === "string")
        ? [...v]
        : bad("a list of strings");
    case "glob-list": {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
        return bad("a list of glob patterns");
      }
      for (const [i, p] of v.entries()) {
        try {
          compileGlob(p);
        } catch (err) {
          throw invalidArgument(
            `${source}: "${name}"[${i}] is not a valid pattern: ${(err as Error).message}`,
          );
        }
      }
      return [...v];
    }
    case "string-list-map": {
      if (!isPlainObject(v)) return bad("a table of string lists");
      const out: Record<string, string[]> = {};
      for (const [k, list] of Object.entries(v)) {
        if (!Array.isArray(list) || !list.every((x) => typeof x === "string")) {
          throw invalidArgument(`${source}: "${name}.${k}" must be a list of strings`);
        }
        out[k] = [...list];
      }
      return out;
    }
    case "handler-map": {
      if (!isPlainObject(v)) return bad("a table of handler tables");
      const out: Record<string, unknown> = {};
      for (const [handler, entry] of Object.entries(v)) {
        if (!HANDLER_NAME.test(handler)) {
          throw invalidArgument(
            `${source}: "${name}.${handler}": a handler name must be a DNS label ` +
              `(lower-case letters, digits and '-', at most 63)`,
          );
        }
        if (!isPlainObject(entry)) {
          throw invalidArgument(`${source}: "${name}.${handler}" must be a table`);
        }
        const h = resolveTable(HANDLER_SCHEMA, entry, `${name}.${handler}.`, source);
        for (const [i, o] of (h.options as string[]).entries()) {
          if (!/^--[a-z0-9][-a-z0-9]*(=.*)?$/.test(o)) {
            throw invalidArgument(
              `${source}: "${name}.${handler}.options"[${i}] ${JSON.stringify(o)} is not a ` +
                `--flag or --flag=value`,
            );
          }
        }
        out[handler] = h;
      }
      return out;
    }
    case "auth-map": {
      if (!isPlainObject(v)) return bad("a table of credentials");
      const out: Record<string, RegistryAuth> = {};
      const allowed = ["username", "password", "auth", "identity_token", "registry_token"];
      for (const [host, entry] of Object.entries(v)) {
        if (!isPlainObject(entry)) {
          throw invalidArgument(`${source}: "${name}.${host}" must be a table`);
        }
        const auth: Record<string, string> = {};
        for (const [k, val] of Object.entries(entry)) {
          if (!allowed.includes(k)) {
            throw invalidArgument(`${source}: unknown key "${name}.${host}.${k}"`);
          }
          if (typeof val !== "string") {
            throw invalidArgument(`${source}: "${name}.${host}.${k}" must be a string`);
          }
          auth[camel(k)] = val;
        }
        out[host] = auth as RegistryAuth;
      }
      return out;
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** A close key name for "did you mean", by edit distance ≤ 2. */
function suggest(key: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const d = distance(key, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** Sets dotted-key overrides on a raw object (flags win over the file). */
export function applyOverrides(raw: Record<string, unknown>, overrides: Overrides): void {
  for (const [dotted, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const parts = dotted.split(".");
    let cur = raw;
    for (const p of parts.slice(0, -1)) {
      if (!isPlainObject(cur[p])) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[parts.at(-1)!] = value;
  }
}

/** Where each key not at its default came from: dotted key → file (or "flags"). */
export type Sources = Map<string, string>;

/** The effective configuration with where it came from. */
export interface LoadedConfig {
  readonly config: Config;
  /** The files read, in the order applied: the main file (when present), then drop-ins. */
  readonly files: readonly string[];
  /** Dotted key (a map entry: `image.mirrors."docker.io"`) → the last file that set it. */
  readonly sources: Sources;
}

/** How to find the configuration. */
export interface LoadOptions {
  /** The main file (default {@link DEFAULT_CONFIG_PATH}); drop-ins are `config.d/*.toml` beside it. */
  path?: string;
  /** The operator named `path`: its absence is an error. */
  explicit?: boolean;
  /** Flags, applied last. */
  overrides?: Overrides;
}

/**
 * Loads the effective config: defaults ← file ← overrides.
 *
 * A missing file at the default path is fine (built-in defaults); a missing file that the
 * operator named explicitly is an error.
 */
export async function loadConfig(opts: LoadOptions = {}): Promise<Config> {
  return (await loadConfigWithSources(opts)).config;
}

/** The directory of drop-ins for the config file `path`. */
export function dropInDir(path: string): string {
  const i = path.lastIndexOf("/");
  return `${i < 0 ? "." : i === 0 ? "" : path.slice(0, i)}/config.d`;
}

/**
 * Loads the effective config and where each key came from: defaults ← the main file ←
 * `config.d/*.toml` beside it, in byte-wise lexical order ← flags.
 *
 * Merge rules (DESIGN.md "Configuration"): a scalar in a later file replaces the earlier
 * value (`false`, `0` and `""` too: TOML tells absent from zero); tables merge key by key,
 * including the per-host tables `image.mirrors` and `image.auths`; lists replace as a
 * whole. Each file is validated on its own first, so an error names the file and the key;
 * any error refuses the whole merge.
 */
export async function loadConfigWithSources(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const path = opts.path ?? DEFAULT_CONFIG_PATH;
  const files: string[] = [];
  const sources: Sources = new Map();
  const merged: Record<string, unknown> = {};
  const main = await readToml(path, opts.explicit ?? false);
  if (main) {
    files.push(path);
    mergeFile(merged, main, path, sources);
  }
  const dir = dropInDir(path);
  for (const file of await dropIns(dir)) {
    const raw = await readToml(file, true);
    if (raw) {
      files.push(file);
      mergeFile(merged, raw, file, sources);
    }
  }
  const overrides = Object.fromEntries(
    Object.entries(opts.overrides ?? {}).filter(([, v]) => v !== undefined),
  );
  if (Object.keys(overrides).length) {
    const raw: Record<string, unknown> = {};
    applyOverrides(raw, overrides);
    mergeFile(merged, raw, "flags", sources);
  }
  const source = files.length === 0 ? "defaults" : files.join(" + ");
  const cfg = resolveConfig(merged, Object.keys(overrides).length ? `${source} + flags` : source);
  checkStatePathLength(cfg.state);
  checkLogRoots(cfg, (key) => sources.get(key) ?? "defaults");
  checkMetricsAddress(cfg.metrics);
  return { config: cfg, files, sources };
}

/** The regular `*.toml` files of `dir`, sorted byte-wise; none when it does not exist. */
async function dropIns(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.name.endsWith(".toml") || e.name.startsWith(".")) continue;
      // Regular files only (a symlink to one is followed: packaging tools install those).
      const st = await Deno.stat(`${dir}/${e.name}`).catch(() => undefined);
      if (st?.isFile) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw wrap(err, `cannot read the drop-in directory ${dir}`);
  }
  const bytes = (s: string) => new TextEncoder().encode(s);
  names.sort((a, b) => {
    const x = bytes(a), y = bytes(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i]! - y[i]!;
    }
    return x.length - y.length;
  });
  return names.map((n) => `${dir}/${n}`);
}

/** Parses TOML file `path`; undefined when it is absent and `required` is false. */
async function readToml(
  path: string,
  required: boolean,
): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      if (!required) return undefined;
      throw invalidArgument(`config file ${path} does not exist`);
    }
    throw wrap(err, `cannot read config file ${path}`);
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw invalidArgument(`${path}: not valid TOML: ${err instanceof Error ? err.message : err}`);
  }
}

/** Validates `raw` (one file) on its own, then merges it into `into`, noting its keys. */
function mergeFile(
  into: Record<string, unknown>,
  raw: Record<string, unknown>,
  file: string,
  sources: Sources,
): void {
  resolveTable(SCHEMA, raw, "", file);
  mergeTable(SCHEMA, into, raw, "", file, sources);
}

function mergeTable(
  spec: TableSpec,
  into: Record<string, unknown>,
  raw: Record<string, unknown>,
  prefix: string,
  file: string,
  sources: Sources,
): void {
  for (const [key, value] of Object.entries(raw)) {
    const sub = spec.fields[key]!;
    const name = `${prefix}${key}`;
    if (isTable(sub)) {
      if (!isPlainObject(into[key])) into[key] = {};
      mergeTable(
        sub,
        into[key] as Record<string, unknown>,
        value as Record<string, unknown>,
        `${name}.`,
        file,
        sources,
      );
    } else if (
      sub.type.kind === "string-list-map" || sub.type.kind === "auth-map" ||
      sub.type.kind === "handler-map"
    ) {
      // Per-host (per-handler) tables: a drop-in adds one entry or merges into it key by key.
      if (!isPlainObject(into[key])) into[key] = {};
      const map = into[key] as Record<string, unknown>;
      for (const [host, entry] of Object.entries(value as Record<string, unknown>)) {
        map[host] = isPlainObject(entry) && isPlainObject(map[host])
          ? { ...(map[host] as Record<string, unknown>), ...entry }
          : structuredClone(entry);
        sources.set(`${name}.${JSON.stringify(host)}`, file);
      }
    } else {
      into[key] = structuredClone(value);
      sources.set(name, file);
    }
  }
}

/** The dotted key of every leaf of the schema (a map field counts as one key). */
export function schemaKeys(spec: TableSpec = SCHEMA, prefix = ""): string[] {
  return Object.entries(spec.fields).flatMap(([key, sub]) =>
    isTable(sub) ? schemaKeys(sub, `${prefix}${key}.`) : [`${prefix}${key}`]
  );
}

/** The value of dotted key `key` (snake_case, as in the file) in `config`. */
export function valueAt(config: Config, key: string): unknown {
  let cur: unknown = config;
  for (const part of key.split(".")) cur = (cur as Record<string, unknown>)?.[camel(part)];
  return cur;
}

/**
 * Log roots must be plain absolute paths (a lexical prefix test decides what lies beneath
 * them), and the kubelet's pod log dir, where spare shims may write, must be beneath one.
 */
function checkLogRoots(cfg: Config, source: (key: string) => string): void {
  cfg.runtime.podLogRoots = cfg.runtime.podLogRoots.map((r, i) => {
    const plain = plainAbsolute(r);
    if (plain === undefined) {
      throw invalidArgument(
        `${source("runtime.pod_log_roots")}: "runtime.pod_log_roots"[${i}] ${
          JSON.stringify(r)
        } must be an absolute path without empty, . or .. components`,
      );
    }
    return plain;
  });
  cfg.runtime.checkpointRoots = cfg.runtime.checkpointRoots.map((r, i) => {
    const plain = plainAbsolute(r);
    if (plain === undefined) {
      throw invalidArgument(
        `${source("runtime.checkpoint_roots")}: "runtime.checkpoint_roots"[${i}] ${
          JSON.stringify(r)
        } must be an absolute path without empty, . or .. components`,
      );
    }
    return plain;
  });
  const dir = cfg.runtime.podLogsDir === "" ? undefined : plainAbsolute(cfg.runtime.podLogsDir);
  if (
    cfg.runtime.podLogsDir !== "" &&
    (dir === undefined || !beneathAny(dir, cfg.runtime.podLogRoots))
  ) {
    throw invalidArgument(
      `${source("runtime.pod_logs_dir")}: "runtime.pod_logs_dir" ${
        JSON.stringify(cfg.runtime.podLogsDir)
      } is not beneath any of "runtime.pod_log_roots" ${JSON.stringify(cfg.runtime.podLogRoots)}`,
    );
  }
}

/** `path` without a trailing slash when it is absolute with no empty, `.` or `..` parts. */
export function plainAbsolute(path: string): string | undefined {
  if (!path.startsWith("/") || path.includes("\0")) return undefined;
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  if (trimmed === "/") return "/";
  const parts = trimmed.slice(1).split("/");
  return parts.some((p) => p === "" || p === "." || p === "..") ? undefined : trimmed;
}

/** Whether plain absolute `path` is one of `roots` or lies beneath one. */
export function beneathAny(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => path === r || path.startsWith(r === "/" ? "/" : `${r}/`));
}

/**
 * `[metrics] address` must parse, and be loopback or a unix socket unless the operator
 * allowed otherwise: the endpoint has no TLS and no authentication, and what it tells
 * (which RPCs fail, how many pods and containers run, image pull failures) is
 * reconnaissance for anyone on the network. containerd and CRI-O default to loopback too.
 */
export function checkMetricsAddress(m: Config["metrics"]): void {
  if (m.address === "") return;
  const a = parseListenAddress(m.address);
  if (typeof a === "string") throw invalidArgument(`"metrics.address": ${a}`);
  if (a.kind === "tcp" && !a.loopback && !m.allowNonLoopback) {
    throw invalidArgument(
      `"metrics.address" ${JSON.stringify(m.address)} is not a loopback address: the metrics ` +
        `endpoint has no TLS or authentication, so it is served on 127.0.0.1, [::1] or a unix ` +
        `socket; put an authenticating proxy in front, or set "metrics.allow_non_loopback" = true`,
    );
  }
}

/**
 * The longest unix socket a shim makes is `<state>/shims/<64-character id>/t<n>`; the kernel
 * takes at most 107 bytes. Refusing a longer state dir at startup beats every container
 * failing later.
 */
export const MAX_STATE_PATH = 107 - "/shims/".length - 64 - "/t99999".length;

function checkStatePathLength(state: string): void {
  const bytes = new TextEncoder().encode(state.replace(/\/+$/, "")).length;
  if (bytes > MAX_STATE_PATH) {
    throw invalidArgument(
      `"state" ${JSON.stringify(state)} is ${bytes} bytes long; at most ${MAX_STATE_PATH} ` +
        `fit, because the shims' unix sockets live under it and a socket path is limited ` +
        `to 107 bytes`,
    );
  }
}

/** The built-in defaults, typed (tests and tools). */
export function defaultConfig(): Config {
  return resolveConfig({}, "defaults");
}
