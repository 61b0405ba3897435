/**
 * Which seccomp filter a container gets, from the CRI security profile, following
 * containerd's `internal/cri/sputil` (GenerateSeccompSecurityProfile, GenerateSeccompSpecOpts)
 * and `contrib/seccomp` (WithProfile reads a Localhost profile as an OCI `LinuxSeccomp`).
 *
 * @module
 */
import {
  type SecurityProfile,
  SecurityProfile_ProfileType as ProfileType,
} from "../api/gen/api.ts";
import { internal, invalidArgument } from "../errors/mod.ts";
import { defaultSeccompProfile } from "./_seccomp_default.ts";
import type {
  LinuxSeccomp,
  LinuxSeccompAction,
  LinuxSeccompArg,
  LinuxSeccompOperator,
  LinuxSyscall,
} from "./spec.ts";

export { defaultSeccompProfile };

const LOCALHOST_PREFIX = "localhost/";

/**
 * The structured profile a (possibly deprecated) profile path stands for: `runtime/default`
 * and `docker/default` are RuntimeDefault, `unconfined` is Unconfined, `localhost/<path>` is
 * Localhost; empty means none asked.
 */
export function profileFromPath(path: string, field: string): SecurityProfile | undefined {
  switch (path) {
    case "":
      return undefined;
    case "runtime/default":
    case "docker/default":
      return { profileType: ProfileType.RuntimeDefault, localhostRef: "" };
    case "unconfined":
      return { profileType: ProfileType.Unconfined, localhostRef: "" };
  }
  if (!path.startsWith(LOCALHOST_PREFIX)) {
    throw invalidArgument(`${field}: invalid profile "${path}"`);
  }
  return { profileType: ProfileType.Localhost, localhostRef: path.slice(LOCALHOST_PREFIX.length) };
}

/** A security context's seccomp request: the message, or its deprecated path field. */
export interface SeccompSource {
  /** The structured profile; wins over the path. */
  seccomp?: SecurityProfile | undefined;
  /** Deprecated `seccomp_profile_path` (`runtime/default`, `localhost/<path>`…). */
  seccompProfilePath: string;
}

/**
 * The host path of the Localhost seccomp profile a security context asks for, if it asks
 * for one: the runtime reads that file and passes its text to the spec builder.
 */
export function localhostSeccompProfilePath(
  sc: SeccompSource | undefined,
  field: string,
): string | undefined {
  if (sc === undefined) return undefined;
  const p = sc.seccomp ?? profileFromPath(sc.seccompProfilePath, `${field}.seccomp_profile_path`);
  if (p?.profileType !== ProfileType.Localhost) return undefined;
  const ref = p.localhostRef.startsWith(LOCALHOST_PREFIX)
    ? p.localhostRef.slice(LOCALHOST_PREFIX.length)
    : p.localhostRef;
  if (ref === "") throw invalidArgument(`${field}.seccomp.localhost_ref: empty profile path`);
  return ref;
}

/** What {@link seccompFor} needs. */
export interface SeccompRequest {
  source: SeccompSource | undefined;
  privileged: boolean;
  /** The container's bounding capabilities (they unlock syscalls in RuntimeDefault). */
  bounding: readonly string[];
  /** `Deno.build.arch` of the node. */
  arch: string;
  /** Text of the Localhost profile file, when one is asked for. */
  localhostProfile?: string | undefined;
  /** Field path of the security context, for errors. */
  field: string;
}

/**
 * The filter for a container: none when privileged, when nothing is asked or when
 * Unconfined; the default allowlist for RuntimeDefault; the parsed file for Localhost.
 */
export function seccompFor(req: SeccompRequest): LinuxSeccomp | undefined {
  if (req.privileged || req.source === undefined) return undefined;
  const field = `${req.field}.seccomp`;
  const sp = req.source.seccomp ??
    profileFromPath(req.source.seccompProfilePath, `${req.field}.seccomp_profile_path`);
  if (sp === undefined) return undefined;
  if (sp.profileType !== ProfileType.Localhost && sp.localhostRef !== "") {
    throw invalidArgument(`${field}.localhost_ref: set, but the profile type is not Localhost`);
  }
  switch (sp.profileType) {
    case ProfileType.Unconfined:
      return undefined;
    case ProfileType.RuntimeDefault:
      return defaultSeccompProfile(req.bounding, req.arch);
    case ProfileType.Localhost: {
      const path = localhostSeccompProfilePath(req.source, req.field);
      if (req.localhostProfile === undefined) {
        throw internal(`seccomp profile "${path}" was asked for but its text was not read`);
      }
      return parseSeccompProfile(req.localhostProfile, `${field}.localhost_ref ("${path}")`);
    }
    default:
      throw invalidArgument(`${field}.profile_type: unknown profile type ${sp.profileType}`);
  }
}

const ACTIONS: ReadonlySet<string> = new Set<LinuxSeccompAction>([
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
]);
const OPERATORS: ReadonlySet<string> = new Set<LinuxSeccompOperator>([
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
]);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === "string");
const isUint = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/**
 * Parses a Localhost profile: an OCI `LinuxSeccomp` in JSON, as containerd reads it. Keys it
 * does not know (Docker's `archMap`, `includes`…) are ignored, as Go's decoder ignores them.
 * Anything malformed is invalid-argument naming `field`.
 */
export function parseSeccompProfile(text: string, field: string): LinuxSeccomp {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`${field}: not JSON: ${(err as Error).message}`);
  }
  const bad = (what: string): never => {
    throw invalidArgument(`${field}: ${what}`);
  };
  if (!isObject(doc)) return bad("not a JSON object");
  const action = (v: unknown, where: string): LinuxSeccompAction =>
    typeof v === "string" && ACTIONS.has(v)
      ? v as LinuxSeccompAction
      : bad(`${where}: unknown action ${JSON.stringify(v)}`);

  const out: LinuxSeccomp = { defaultAction: action(doc.defaultAction, "defaultAction") };
  if (doc.defaultErrnoRet !== undefined) {
    out.defaultErrnoRet = isUint(doc.defaultErrnoRet)
      ? doc.defaultErrnoRet
      : bad("defaultErrnoRet: not a number");
  }
  for (const key of ["architectures", "flags"] as const) {
    if (doc[key] === undefined || doc[key] === null) continue;
    if (!isStringArray(doc[key])) bad(`${key}: not a list of strings`);
    out[key] = [...doc[key] as string[]];
  }
  for (const key of ["listenerPath", "listenerMetadata"] as const) {
    if (doc[key] === undefined || doc[key] === "") continue;
    if (typeof doc[key] !== "string") bad(`${key}: not a string`);
    out[key] = doc[key] as string;
  }
  if (doc.syscalls !== undefined && doc.syscalls !== null) {
    if (!Array.isArray(doc.syscalls)) return bad("syscalls: not a list");
    out.syscalls = doc.syscalls.map((s: unknown, i): LinuxSyscall => {
      const at = `syscalls[${i}]`;
      if (!isObject(s)) return bad(`${at}: not an object`);
      if (!isStringArray(s.names) || s.names.length === 0) bad(`${at}.names: empty or not strings`);
      const rule: LinuxSyscall = {
        names: [...s.names as string[]],
        action: action(s.action, `${at}.action`),
      };
      if (s.errnoRet !== undefined) {
        rule.errnoRet = isUint(s.errnoRet) ? s.errnoRet : bad(`${at}.errnoRet: not a number`);
      }
      if (s.args !== undefined && s.args !== null) {
        if (!Array.isArray(s.args)) bad(`${at}.args: not a list`);
        rule.args = (s.args as unknown[]).map((a, j) => parseArg(a, `${at}.args[${j}]`, bad));
      }
      return rule;
    });
  }
  return out;
}

function parseArg(a: unknown, at: string, bad: (what: string) => never): LinuxSeccompArg {
  if (!isObject(a)) return bad(`${at}: not an object`);
  if (!isUint(a.index) || a.index > 5) bad(`${at}.index: not 0..5`);
  if (!isUint(a.value)) bad(`${at}.value: not a number`);
  if (typeof a.op !== "string" || !OPERATORS.has(a.op)) {
    bad(`${at}.op: unknown operator ${JSON.stringify(a.op)}`);
  }
  const arg: LinuxSeccompArg = {
    index: a.index as number,
    value: a.value as number,
    op: a.op as LinuxSeccompOperator,
  };
  if (a.valueTwo !== undefined) {
    arg.valueTwo = isUint(a.valueTwo) ? a.valueTwo : bad(`${at}.valueTwo: not a number`);
  }
  return arg;
}
