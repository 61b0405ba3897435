/**
 * CDI spec files (cncf-tags/container-device-interface `SPEC.md`, `specs-go/config.go`):
 * JSON or YAML text → a checked {@link CdiSpec}. Parsing is strict as the CDI library's
 * `yaml.UnmarshalStrict`: an unknown key, a wrong type, a field newer than the file's
 * `cdiVersion`, an invalid name or a duplicate device is an error naming the file and where.
 * Pure: the runtime reads the files (bounded) and hands their text here.
 *
 * @module
 */
import { parse as parseYaml, YAMLError } from "yaml";
import { failedPrecondition } from "../../errors/mod.ts";
import { checkDeviceName, checkKind } from "./names.ts";

/** The spec versions this reader accepts (the CDI library's validSpecVersions from 0.3.0). */
export const CDI_VERSIONS = [
  "0.3.0",
  "0.4.0",
  "0.5.0",
  "0.6.0",
  "0.7.0",
  "0.8.0",
  "1.0.0",
  "1.1.0",
] as const;

/** A device node edit. */
export interface CdiDeviceNode {
  /** Path in the container. */
  path: string;
  /** Path on the host (default: `path`). */
  hostPath?: string;
  /** `b`, `c`, `u`, `p`, or absent (taken from the host node). */
  type?: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  /** Device cgroup access: some of `r`, `w`, `m`; `none` for none; absent for all. */
  permissions?: string;
  uid?: number;
  gid?: number;
}

/** A mount edit. */
export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options?: string[];
}

/** An OCI hook edit. */
export interface CdiHook {
  hookName: string;
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** The edits a spec or a device makes to a container. */
export interface CdiEdits {
  env?: string[];
  deviceNodes?: CdiDeviceNode[];
  mounts?: CdiMount[];
  hooks?: CdiHook[];
  additionalGids?: number[];
  /** Accepted in the file; refused when a device using it is requested (not applied). */
  intelRdt?: unknown;
  /** Accepted in the file; refused when a device using it is requested (not applied). */
  netDevices?: unknown;
}

/** One device of a spec. */
export interface CdiDevice {
  name: string;
  annotations?: Record<string, string>;
  containerEdits: CdiEdits;
}

/** A checked spec file. */
export interface CdiSpec {
  /** The file it came from, for messages. */
  file: string;
  cdiVersion: string;
  /** `vendor/class`. */
  kind: string;
  annotations?: Record<string, string>;
  devices: CdiDevice[];
  containerEdits: CdiEdits;
}

/** OCI hook names a CDI hook may use. */
export const HOOK_NAMES = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;

type Obj = Record<string, unknown>;

class SpecError extends Error {}

function fail(where: string, msg: string): never {
  throw new SpecError(`${where}: ${msg}`);
}

function obj(v: unknown, where: string, keys: readonly string[]): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, "is not an object");
  const o = v as Obj;
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) fail(where, `unknown field "${k}"`);
  }
  return o;
}

function str(o: Obj, k: string, where: string, required = false): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) {
    if (required) fail(`${where}.${k}`, "is required");
    return undefined;
  }
  if (typeof v !== "string") fail(`${where}.${k}`, "is not a string");
  if (required && v === "") fail(`${where}.${k}`, "is empty");
  return v;
}

function num(o: Obj, k: string, where: string, min: number, max: number): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    fail(`${where}.${k}`, `is not an integer in ${min}..${max}`);
  }
  return v;
}

function strList(o: Obj, k: string, where: string): string[] | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    fail(`${where}.${k}`, "is not a list of strings");
  }
  return v as string[];
}

function list(o: Obj, k: string, where: string): unknown[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`${where}.${k}`, "is not a list");
  return v;
}

function strMap(o: Obj, k: string, where: string): Record<string, string> | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  const m = obj(v, `${where}.${k}`, Object.keys(v as Obj));
  for (const [key, val] of Object.entries(m)) {
    if (typeof val !== "string") fail(`${where}.${k}.${key}`, "is not a string");
  }
  return m as Record<string, string>;
}

const U32 = 0xffffffff;

function absolute(p: string, where: string): string {
  if (!p.startsWith("/") || p.includes("\0")) fail(where, `"${p}" is not an absolute path`);
  return p;
}

function env(list: string[] | undefined, where: string): string[] | undefined {
  list?.forEach((e, i) => {
    const eq = e.indexOf("=");
    if (eq <= 0 || e.includes("\0")) fail(`${where}[${i}]`, `"${e}" is not NAME=VALUE`);
  });
  return list;
}

/** Version order: -1, 0, 1. */
function compareVersion(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Checks edits; `need` collects the minimum versions the fields used require. */
function edits(v: unknown, where: string, need: (version: string, what: string) => void): CdiEdits {
  if (v === undefined || v === null) return {};
  const o = obj(v, where, [
    "env",
    "deviceNodes",
    "mounts",
    "hooks",
    "additionalGids",
    "intelRdt",
    "netDevices",
  ]);
  const out: CdiEdits = {};
  const e = env(strList(o, "env", where), `${where}.env`);
  if (e) out.env = e;
  const nodes = list(o, "deviceNodes", where).map((n, i) => {
    const w = `${where}.deviceNodes[${i}]`;
    const d = obj(n, w, [
      "path",
      "hostPath",
      "type",
      "major",
      "minor",
      "fileMode",
      "permissions",
      "uid",
      "gid",
    ]);
    const node: CdiDeviceNode = { path: absolute(str(d, "path", w, true)!, `${w}.path`) };
    const hostPath = str(d, "hostPath", w);
    if (hostPath) {
      need("0.5.0", `${w}.hostPath`);
      node.hostPath = absolute(hostPath, `${w}.hostPath`);
    }
    const type = str(d, "type", w);
    if (type) {
      if (!["b", "c", "u", "p"].includes(type)) fail(`${w}.type`, `"${type}" is not b, c, u or p`);
      node.type = type;
    }
    for (const k of ["major", "minor"] as const) {
      const n = num(d, k, w, 0, U32);
      if (n !== undefined) node[k] = n;
    }
    const mode = num(d, "fileMode", w, 0, 0o7777);
    if (mode !== undefined) node.fileMode = mode;
    const perms = str(d, "permissions", w);
    if (perms) {
      if (
        perms !== "none" && (!/^[rwm]{1,3}$/.test(perms) || new Set(perms).size !== perms.length)
      ) {
        fail(`${w}.permissions`, `"${perms}" is not a combination of r, w and m, or none`);
      }
      node.permissions = perms;
    }
    for (const k of ["uid", "gid"] as const) {
      const n = num(d, k, w, 0, U32);
      if (n !== undefined) node[k] = n;
    }
    return node;
  });
  if (nodes.length > 0) out.deviceNodes = nodes;
  const mounts = list(o, "mounts", where).map((m, i) => {
    const w = `${where}.mounts[${i}]`;
    const d = obj(m, w, ["hostPath", "containerPath", "type", "options"]);
    const mount: CdiMount = {
      hostPath: absolute(str(d, "hostPath", w, true)!, `${w}.hostPath`),
      containerPath: absolute(str(d, "containerPath", w, true)!, `${w}.containerPath`),
    };
    const type = str(d, "type", w);
    if (type) {
      need("0.4.0", `${w}.type`);
      mount.type = type;
    }
    const options = strList(d, "options", w);
    if (options) mount.options = options;
    return mount;
  });
  if (mounts.length > 0) out.mounts = mounts;
  const hooks = list(o, "hooks", where).map((h, i) => {
    const w = `${where}.hooks[${i}]`;
    const d = obj(h, w, ["hookName", "path", "args", "env", "timeout"]);
    const hookName = str(d, "hookName", w, true)!;
    if (!(HOOK_NAMES as readonly string[]).includes(hookName)) {
      fail(`${w}.hookName`, `"${hookName}" is not one of ${HOOK_NAMES.join(", ")}`);
    }
    const hook: CdiHook = { hookName, path: absolute(str(d, "path", w, true)!, `${w}.path`) };
    const args = strList(d, "args", w);
    if (args) hook.args = args;
    const hookEnv = env(strList(d, "env", w), `${w}.env`);
    if (hookEnv) hook.env = hookEnv;
    const timeout = num(d, "timeout", w, 1, 2 ** 31 - 1);
    if (timeout !== undefined) hook.timeout = timeout;
    return hook;
  });
  if (hooks.length > 0) out.hooks = hooks;
  const gids = list(o, "additionalGids", where).map((g, i) => {
    if (typeof g !== "number" || !Number.isInteger(g) || g < 0 || g > U32) {
      fail(`${where}.additionalGids[${i}]`, "is not a uint32");
    }
    return g;
  });
  if (gids.length > 0) {
    need("0.7.0", `${where}.additionalGids`);
    out.additionalGids = gids;
  }
  if (o.intelRdt !== undefined && o.intelRdt !== null) {
    need("0.7.0", `${where}.intelRdt`);
    out.intelRdt = o.intelRdt;
  }
  if (o.netDevices !== undefined && o.netDevices !== null) {
    need("1.1.0", `${where}.netDevices`);
    out.netDevices = o.netDevices;
  }
  return out;
}

/**
 * Parses and checks one spec file's text (`.json` or `.yaml` by `file`'s name). Any problem is
 * FAILED_PRECONDITION naming the file and the place in it.
 */
export function parseCdiSpec(file: string, text: string): CdiSpec {
  let doc: unknown;
  try {
    doc = file.endsWith(".json")
      ? JSON.parse(text)
      : parseYaml(text, { strict: true, uniqueKeys: true, maxAliasCount: 0 });
  } catch (err) {
    // Only the parsers' own errors are the file's fault (a missing permission is not).
    if (!(err instanceof SyntaxError || err instanceof YAMLError)) throw err;
    throw failedPrecondition(
      `CDI spec "${file}" is malformed: ${err instanceof Error ? err.message : err}`,
    );
  }
  try {
    return checkSpec(file, doc);
  } catch (err) {
    if (err instanceof SpecError) {
      throw failedPrecondition(`CDI spec "${file}" is invalid: ${err.message}`);
    }
    throw err;
  }
}

function checkSpec(file: string, doc: unknown): CdiSpec {
  const o = obj(doc, "spec", ["cdiVersion", "kind", "annotations", "devices", "containerEdits"]);
  const version = str(o, "cdiVersion", "spec", true)!.replace(/^v/, "");
  if (!(CDI_VERSIONS as readonly string[]).includes(version)) {
    fail("spec.cdiVersion", `"${version}" is not one of ${CDI_VERSIONS.join(", ")}`);
  }
  const needs: [string, string][] = [];
  const need = (v: string, what: string) => needs.push([v, what]);
  const kind = str(o, "kind", "spec", true)!;
  const kindProblem = checkKind(kind);
  if (kindProblem) fail("spec.kind", kindProblem);
  const annotations = strMap(o, "annotations", "spec");
  if (annotations) need("0.6.0", "spec.annotations");
  const seen = new Set<string>();
  const devices = list(o, "devices", "spec").map((d, i) => {
    const w = `spec.devices[${i}]`;
    const dev = obj(d, w, ["name", "annotations", "containerEdits"]);
    const name = str(dev, "name", w, true)!;
    const nameProblem = checkDeviceName(name);
    if (nameProblem) fail(`${w}.name`, nameProblem);
    if (seen.has(name)) fail(`${w}.name`, `device "${name}" is defined twice`);
    seen.add(name);
    const out: CdiDevice = {
      name,
      containerEdits: edits(dev.containerEdits, `${w}.containerEdits`, need),
    };
    const ann = strMap(dev, "annotations", w);
    if (ann) {
      need("0.6.0", `${w}.annotations`);
      out.annotations = ann;
    }
    const e = out.containerEdits;
    if (
      !e.env && !e.deviceNodes && !e.mounts && !e.hooks && !e.additionalGids && !e.intelRdt &&
      !e.netDevices
    ) {
      fail(`${w}.containerEdits`, "is empty");
    }
    return out;
  });
  if (devices.length === 0) fail("spec.devices", "no devices");
  const containerEdits = edits(o.containerEdits, "spec.containerEdits", need);
  for (const [v, what] of needs) {
    if (compareVersion(version, v) < 0) {
      fail(what, `needs cdiVersion ${v} or later (file says ${version})`);
    }
  }
  const spec: CdiSpec = { file, cdiVersion: version, kind, devices, containerEdits };
  if (annotations) spec.annotations = annotations;
  return spec;
}
