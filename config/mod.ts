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
import { type FieldSpec, isTable, SCHEMA, type TableSpec } from "./schema.ts";
import { compileGlob } from "../lib/glob.ts";

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
  return resolveTable(SCHEMA, raw, "", source) as unknown as Config;
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

/**
 * Loads the effective config: defaults ← file ← overrides.
 *
 * A missing file at the default path is fine (built-in defaults); a missing file that the
 * operator named explicitly is an error.
 */
export async function loadConfig(
  opts: { path?: string; explicit?: boolean; overrides?: Overrides } = {},
): Promise<Config> {
  const path = opts.path ?? DEFAULT_CONFIG_PATH;
  let raw: Record<string, unknown> = {};
  let source = "defaults";
  try {
    const text = await Deno.readTextFile(path);
    source = path;
    try {
      raw = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      throw invalidArgument(`${path}: not valid TOML: ${err instanceof Error ? err.message : err}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound) || opts.explicit) {
      if (err instanceof Deno.errors.NotFound) {
        throw invalidArgument(`config file ${path} does not exist`);
      }
      if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
        throw wrap(err, `cannot read config file ${path}`);
      }
      throw err;
    }
  }
  applyOverrides(raw, opts.overrides ?? {});
  const cfg = resolveConfig(
    raw,
    Object.keys(opts.overrides ?? {}).length ? `${source} + flags` : source,
  );
  if (cfg.runtime.root === "") cfg.runtime.root = `${cfg.state}/runc`;
  checkStatePathLength(cfg.state);
  return cfg;
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
  const cfg = resolveConfig({}, "defaults");
  cfg.runtime.root = `${cfg.state}/runc`;
  return cfg;
}
