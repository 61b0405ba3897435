/**
 * A test-only crictl: the verbs and flags sauropod's README walks a newcomer through,
 * implemented with the project's CRI client the way cri-tools' `crictl` (cmd/crictl, 1.3x)
 * implements them — the same RPCs in the same order, the same output on stdout and stderr,
 * the same reading of config files — so a walkthrough written for crictl runs in a test on a
 * machine without crictl (none is packaged for Debian 12).
 *
 * | verb              | what crictl does                                                                 |
 * | ----------------- | -------------------------------------------------------------------------------- |
 * | `pull IMAGE`      | PullImage; prints `Image is up to date for <image_ref>`                          |
 * | `runp POD.json`   | RunPodSandbox with the decoded config; prints the pod id                         |
 * | `create POD C P`  | CreateContainer(pod id, container config, pod config), no pull unless asked; id   |
 * | `start ID…`       | StartContainer; prints each id                                                   |
 * | `ps`              | ListContainers (running only unless `-a`), newest first, as a tabwriter table   |
 * | `logs ID`         | ContainerStatus for the log path, then reads the CRI log file itself             |
 * | `exec ID CMD…`    | Exec + the SPDY stream, as client-go (`-s`: ExecSync, each stream + a newline)   |
 * | `stop ID…`        | StopContainer (timeout 0 unless `-t`); prints each id                            |
 * | `rm ID…`          | ContainerStatus (refuses a running one without `-f`), RemoveContainer, removes   |
 * |                   | the log file and its rotations (unless `-k`); prints each id                     |
 * | `stopp ID…`       | StopPodSandbox; `Stopped sandbox <id>`                                           |
 * | `rmp ID…`         | PodSandboxStatus (refuses a ready pod without `-f`), RemovePodSandbox;           |
 * |                   | `Removed sandbox <id>`                                                           |
 *
 * Config files are read as crictl reads them: `encoding/json` into the Go types generated
 * from the CRI proto, whose JSON names are the proto field names — snake_case, matched
 * case-insensitively (`log_directory`, never `logDirectory`) — with enums as numbers (a pod's
 * own PID namespace is `"pid": 1`), 64-bit integers as numbers and `bytes` as base64. crictl
 * silently drops a key it does not know; here that is an error, because such a key is a
 * config that does not do what it says. The field table comes from `api/api.proto`
 * through `protoc --descriptor_set_out`, so it is the agent's own schema.
 *
 * Anything else (another verb, another flag, YAML configs, a tty) fails with an error that
 * names it: a README that uses it must not pass silently.
 *
 * @module
 */
import {
  createFileRegistry,
  type DescField,
  type DescMessage,
  fromBinary,
  ScalarType,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import {
  type Container,
  ContainerConfig,
  ContainerState,
  PodSandboxConfig,
  PodSandboxState,
} from "../../api/gen/api.ts";
import { spdyExec } from "../../streaming/testing/spdy_client.ts";
import type { CriClient } from "./cri_client.ts";
import { readCriLog } from "./pods.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
/** The CRI schema the agent is generated from. */
const PROTO = { dir: `${ROOT}/api`, file: "api.proto" };

// ---------------------------------------------------------------------------------------------
// Config files, decoded as crictl decodes them.

let registry: Promise<ReturnType<typeof createFileRegistry>> | undefined;

/** The CRI message descriptors, compiled from the proto once per process. */
function criRegistry(): Promise<ReturnType<typeof createFileRegistry>> {
  registry ??= (async () => {
    const out = await new Deno.Command("protoc", {
      args: [`--descriptor_set_out=/dev/stdout`, "-I", PROTO.dir, PROTO.file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`protoc ${PROTO.file}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, out.stdout));
  })();
  return registry;
}

/** A config file that crictl would not read as written. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const INT_RANGES: Partial<Record<ScalarType, [bigint, bigint]>> = {
  [ScalarType.INT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SINT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SFIXED32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.UINT32]: [0n, 2n ** 32n - 1n],
  [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n],
};
const WIDE = new Set([
  ScalarType.INT64,
  ScalarType.SINT64,
  ScalarType.SFIXED64,
  ScalarType.UINT64,
  ScalarType.FIXED64,
]);

function typeOf(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/** A scalar as Go's encoding/json puts it into the field's Go type. */
function goScalar(t: ScalarType, v: unknown, at: string): unknown {
  const wrong = () => new ConfigError(`${at}: cannot unmarshal ${typeOf(v)} into ${ScalarType[t]}`);
  switch (t) {
    case ScalarType.STRING:
      if (typeof v !== "string") throw wrong();
      return v;
    case ScalarType.BOOL:
      if (typeof v !== "boolean") throw wrong();
      return v;
    case ScalarType.BYTES:
      if (typeof v !== "string") throw wrong();
      try {
        return Uint8Array.from(atob(v), (c) => c.charCodeAt(0));
      } catch {
        throw new ConfigError(`${at}: a bytes field takes base64, not ${JSON.stringify(v)}`);
      }
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof v !== "number") throw wrong();
      return v;
    default: {
      // Every integer kind: a JSON number without fraction (Go refuses "1.5" and "\"1\"").
      if (typeof v !== "number" || !Number.isInteger(v)) throw wrong();
      const [lo, hi] = INT_RANGES[t]!;
      if (BigInt(v) < lo || BigInt(v) > hi) {
        throw new ConfigError(`${at}: ${v} overflows ${ScalarType[t]}`);
      }
      return WIDE.has(t) ? BigInt(v) : v;
    }
  }
}

/** An enum: Go's generated enum types are int32, so JSON must hold the number. */
function goEnum(v: unknown, at: string, enumName: string): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new ConfigError(
      `${at}: cannot unmarshal ${typeOf(v)} into ${enumName}: crictl takes enums as numbers`,
    );
  }
  return goScalar(ScalarType.INT32, v, at) as number;
}

function goValue(
  f: DescField,
  kind: "scalar" | "enum" | "message",
  v: unknown,
  at: string,
): unknown {
  if (kind === "message") return goMessage(f.message!, v, at);
  if (kind === "enum") return goEnum(v, at, f.enum!.typeName);
  return goScalar(f.scalar!, v, at);
}

/**
 * Decodes `json` into the ts-proto partial of `desc` the way `encoding/json` fills the Go
 * struct: a key matches the field whose proto name it equals, ignoring case; `null` leaves
 * the zero value; unknown keys are refused (crictl drops them).
 */
function goMessage(desc: DescMessage, json: unknown, at: string): Record<string, unknown> {
  if (json === null) return {};
  if (typeOf(json) !== "object") {
    throw new ConfigError(`${at || "config"}: cannot unmarshal ${typeOf(json)} into ${desc.name}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    const f = desc.fields.find((x) => x.name === key) ??
      desc.fields.find((x) => x.name.toLowerCase() === key.toLowerCase());
    const here = at ? `${at}.${key}` : key;
    if (!f) {
      const hint = desc.fields.find((x) =>
        x.jsonName.toLowerCase() === key.toLowerCase() && x.name !== x.jsonName
      );
      throw new ConfigError(
        `${here}: ${desc.name} has no field "${key}" (crictl would drop it silently)` +
          (hint ? `; crictl spells it "${hint.name}"` : ""),
      );
    }
    if (v === null) continue;
    if (f.oneof) throw new ConfigError(`${here}: crictl cannot set oneof fields from JSON`);
    switch (f.fieldKind) {
      case "scalar":
        out[f.localName] = goScalar(f.scalar, v, here);
        break;
      case "enum":
        out[f.localName] = goEnum(v, here, f.enum.typeName);
        break;
      case "message":
        out[f.localName] = goMessage(f.message, v, here);
        break;
      case "list":
        if (!Array.isArray(v)) throw new ConfigError(`${here}: wants an array, not ${typeOf(v)}`);
        out[f.localName] = v.map((x, i) => goValue(f, f.listKind, x, `${here}[${i}]`));
        break;
      case "map": {
        if (typeOf(v) !== "object") {
          throw new ConfigError(`${here}: wants an object, not ${typeOf(v)}`);
        }
        if (f.mapKey !== ScalarType.STRING) {
          throw new ConfigError(`${here}: only string-keyed maps are supported`);
        }
        const m: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
          m[k] = goValue(f, f.mapKind, x, `${here}["${k}"]`);
        }
        out[f.localName] = m;
        break;
      }
    }
  }
  return out;
}

/**
 * Checks that every field decoded into `raw` survived ts-proto's `fromPartial` into `made`
 * (which drops names it does not know): the descriptor's names and ts-proto's must agree.
 */
function checkNames(desc: DescMessage, raw: Record<string, unknown>, made: unknown): void {
  const m = made as Record<string, unknown>;
  for (const [k, v] of Object.entries(raw)) {
    if (!(k in m)) throw new Error(`ts-proto has no field ${desc.name}.${k}: regenerate api/gen`);
    const f = desc.fields.find((x) => x.localName === k)!;
    if (f.fieldKind === "message") checkNames(f.message, v as Record<string, unknown>, m[k]);
    if (f.fieldKind === "list" && f.listKind === "message") {
      (v as Record<string, unknown>[]).forEach((x, i) =>
        checkNames(f.message, x, (m[k] as unknown[])[i])
      );
    }
  }
}

async function readConfig<T>(
  path: string,
  typeName: string,
  make: (raw: never) => T,
): Promise<T> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new ConfigError(`config at ${path} not found`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(
      `${path}: not JSON (${err instanceof Error ? err.message : err}); crictl reads YAML too, ` +
        `this test's crictl does not`,
    );
  }
  const desc = (await criRegistry()).getMessage(typeName);
  if (!desc) throw new Error(`no message ${typeName} in ${PROTO.file}`);
  let raw: Record<string, unknown>;
  try {
    raw = goMessage(desc, json, "");
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${path}: ${err.message}`);
    throw err;
  }
  // The shape was checked field by field against the schema, which ts-proto's types follow.
  const made = make(raw as never);
  checkNames(desc, raw, made);
  return made;
}

/** What crictl does to a pod config after decoding it (`loadPodSandboxConfig`). */
export interface LoadedPodConfig {
  config: PodSandboxConfig;
  /** What crictl logs while loading it (logrus, on stderr). */
  warnings: string[];
}

/** Reads a pod config as crictl's `loadPodSandboxConfig` does. */
export async function loadPodSandboxConfig(path: string): Promise<LoadedPodConfig> {
  const config = await readConfig(
    path,
    "runtime.v1.PodSandboxConfig",
    PodSandboxConfig.fromPartial,
  );
  if (!config.metadata) throw new ConfigError(`${path}: metadata is not set`);
  if (config.metadata.uid === "") config.metadata.uid = crypto.randomUUID();
  if (config.metadata.name === "" || config.metadata.namespace === "") {
    throw new ConfigError(`${path}: name or namespace is not in metadata`);
  }
  const warnings = config.linux && config.linux.cgroupParent === ""
    ? ["cgroup_parent is not set. Use `runtime-config` to get the runtime cgroup driver"]
    : [];
  return { config, warnings };
}

/** Reads a container config as crictl's `loadContainerConfig` does. */
export async function loadContainerConfig(path: string): Promise<ContainerConfig> {
  const config = await readConfig(path, "runtime.v1.ContainerConfig", ContainerConfig.fromPartial);
  if (!config.metadata) throw new ConfigError(`${path}: metadata is not set`);
  if (config.metadata.name === "") throw new ConfigError(`${path}: name is not in metadata`);
  return config;
}

// ---------------------------------------------------------------------------------------------
// Flags, parsed as urfave/cli v2 (on Go's flag package) parses them.

/** A flag a verb takes. */
interface FlagSpec {
  readonly name: string;
  readonly alias?: string;
  readonly kind: "bool" | "string" | "int";
}

/** A verb's flags and whether it lets bool short flags combine (`-af`). */
interface VerbSpec {
  readonly flags: readonly FlagSpec[];
  readonly shortOptionHandling?: boolean;
}

/** Parsed flags: each present flag by its long name. */
export type Flags = ReadonlyMap<string, string | true>;

/** A command line crictl would refuse, or that this crictl does not implement. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Splits `args` into flags and positional arguments. As with Go's flag package, flags come
 * first: the first argument that is not a flag (or `--`) ends them, so `exec ID ls -l` keeps
 * `-l` for the command.
 */
export function parseFlags(spec: VerbSpec, args: readonly string[]): {
  flags: Flags;
  positional: string[];
} {
  const flags = new Map<string, string | true>();
  const find = (n: string) => spec.flags.find((f) => f.name === n || f.alias === n);
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const f = find(name);
    if (!f) {
      // urfave's short option handling: -af is -a -f when both are bool flags.
      const shorts = [...body].map(find);
      if (
        spec.shortOptionHandling && !a.startsWith("--") && eq < 0 && body.length > 1 &&
        shorts.every((s) => s?.kind === "bool")
      ) {
        for (const s of shorts) flags.set(s!.name, true);
        continue;
      }
      throw new UsageError(`flag provided but not defined: -${name}`);
    }
    if (f.kind === "bool") {
      if (eq >= 0 && !["true", "false"].includes(body.slice(eq + 1))) {
        throw new UsageError(`invalid boolean value for -${name}`);
      }
      if (eq < 0 || body.slice(eq + 1) === "true") flags.set(f.name, true);
      continue;
    }
    const value = eq >= 0 ? body.slice(eq + 1) : args[++i];
    if (value === undefined) throw new UsageError(`flag needs an argument: -${name}`);
    if (f.kind === "int" && !/^-?\d+$/.test(value)) {
      throw new UsageError(`invalid value "${value}" for flag -${name}`);
    }
    flags.set(f.name, value);
  }
  return { flags, positional: args.slice(i) };
}

const VERBS: Record<string, VerbSpec> = {
  pull: {
    shortOptionHandling: true,
    flags: [
      { name: "creds", kind: "string" },
      { name: "auth", kind: "string" },
      { name: "pod-config", kind: "string" },
    ],
  },
  runp: { flags: [{ name: "runtime", alias: "r", kind: "string" }] },
  create: {
    flags: [
      { name: "no-pull", kind: "bool" },
      { name: "with-pull", kind: "bool" },
      { name: "creds", kind: "string" },
      { name: "auth", kind: "string" },
    ],
  },
  start: { flags: [] },
  ps: {
    shortOptionHandling: true,
    flags: [
      { name: "all", alias: "a", kind: "bool" },
      { name: "quiet", alias: "q", kind: "bool" },
      { name: "id", kind: "string" },
      { name: "pod", alias: "p", kind: "string" },
      { name: "state", alias: "s", kind: "string" },
      { name: "no-trunc", kind: "bool" },
    ],
  },
  logs: { shortOptionHandling: true, flags: [{ name: "tail", kind: "int" }] },
  exec: {
    shortOptionHandling: true,
    flags: [
      { name: "sync", alias: "s", kind: "bool" },
      { name: "timeout", kind: "int" },
    ],
  },
  stop: { shortOptionHandling: true, flags: [{ name: "timeout", alias: "t", kind: "int" }] },
  rm: {
    shortOptionHandling: true,
    flags: [
      { name: "force", alias: "f", kind: "bool" },
      { name: "keep-logs", alias: "k", kind: "bool" },
    ],
  },
  stopp: { flags: [] },
  rmp: { shortOptionHandling: true, flags: [{ name: "force", alias: "f", kind: "bool" }] },
};

/** The verbs this crictl implements. */
export const VERB_NAMES: readonly string[] = Object.keys(VERBS);

// ---------------------------------------------------------------------------------------------
// Output helpers, as crictl formats.

/** Go's `units.HumanDuration` (docker/go-units), which `crictl ps` shows as CREATED. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

/**
 * Go's text/tabwriter as crictl sets it up (minwidth 20, padding 3, spaces): every cell but
 * a row's last is padded to its column's width.
 */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.slice(0, -1).forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 20, c.length + 3);
    });
  }
  return rows.map((r) =>
    r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join("") + "\n"
  ).join("");
}

/** `getTruncatedID`: at most 13 characters, after `prefix`. */
function truncated(id: string, prefix = ""): string {
  return (id.startsWith(prefix) ? id.slice(prefix.length) : id).slice(0, 13);
}

const STATE_NAMES: Record<number, string> = {
  [ContainerState.CONTAINER_CREATED]: "Created",
  [ContainerState.CONTAINER_RUNNING]: "Running",
  [ContainerState.CONTAINER_EXITED]: "Exited",
  [ContainerState.CONTAINER_UNKNOWN]: "Unknown",
};

// ---------------------------------------------------------------------------------------------
// The verbs.

/** What one crictl run wrote, in order, and how it exited. */
export interface CrictlResult {
  code: number;
  /** Every write, in order, with the stream it went to (a terminal shows them interleaved). */
  output: { stream: "stdout" | "stderr"; text: string }[];
  stdout: string;
  stderr: string;
}

/** Options of {@link Crictl}. */
export interface CrictlOptions {
  /** Directory relative config paths are resolved against (crictl: the shell's cwd). */
  cwd: string;
}

/** A crictl talking to the agent behind `client`. */
export class Crictl {
  readonly #client: CriClient;
  readonly #cwd: string;

  /** A crictl for the agent behind `client`. */
  constructor(client: CriClient, opts: CrictlOptions) {
    this.#client = client;
    this.#cwd = opts.cwd;
  }

  /**
   * Runs `crictl <argv>`. A failed call ends as crictl's does: exit code 1 and a `FATA` line
   * on stderr. A usage or config error this crictl cannot honour throws instead (it is a
   * README or example that crictl would not run as written, or one this crictl lacks).
   */
  async run(argv: readonly string[]): Promise<CrictlResult> {
    const output: CrictlResult["output"] = [];
    const write = (stream: "stdout" | "stderr", text: string) => {
      if (text !== "") output.push({ stream, text });
    };
    const [verb, ...args] = argv;
    if (verb === undefined) throw new UsageError("crictl: no command");
    if (verb.startsWith("-")) {
      throw new UsageError(`crictl: global flag ${verb} is not implemented by the test crictl`);
    }
    const spec = VERBS[verb];
    if (!spec) throw new UsageError(`crictl: "${verb}" is not implemented by the test crictl`);
    const { flags, positional } = parseFlags(spec, args);
    let code = 0;
    try {
      code = await this.#verb(verb, flags, positional, write);
    } catch (err) {
      if (err instanceof UsageError || err instanceof ConfigError) throw err;
      write("stderr", `FATA[0000] ${err instanceof Error ? err.message : String(err)}\n`);
      code = 1;
    }
    const text = (s: "stdout" | "stderr") =>
      output.filter((o) => o.stream === s).map((o) => o.text).join("");
    return { code, output, stdout: text("stdout"), stderr: text("stderr") };
  }

  #path(p: string): string {
    return p.startsWith("/") ? p : `${this.#cwd}/${p}`;
  }

  async #verb(
    verb: string,
    flags: Flags,
    args: string[],
    write: (stream: "stdout" | "stderr", text: string) => void,
  ): Promise<number> {
    const rt = this.#client.runtime;
    const out = (s: string) => write("stdout", s);
    const warn = (s: string) => write("stderr", `WARN[0000] ${s}\n`);
    const ids = () => {
      if (args.length === 0) throw new UsageError(`crictl ${verb}: ID cannot be empty`);
      return args;
    };
    switch (verb) {
      case "pull": {
        if (args.length !== 1) throw new UsageError("crictl pull: one image name");
        let sandboxConfig: PodSandboxConfig | undefined;
        if (flags.has("pod-config")) {
          const pod = await loadPodSandboxConfig(this.#path(String(flags.get("pod-config"))));
          pod.warnings.forEach(warn);
          sandboxConfig = pod.config;
        }
        const r = await this.#client.image.pullImage({
          image: { image: args[0]!, annotations: {} },
          auth: authOf(flags),
          ...(sandboxConfig ? { sandboxConfig } : {}),
        }).catch((err) => Promise.reject(wrapped("pulling image", err)));
        out(`Image is up to date for ${r.imageRef}\n`);
        return 0;
      }
      case "runp": {
        if (args.length !== 1) throw new UsageError("crictl runp: one pod config");
        const pod = await loadPodSandboxConfig(this.#path(args[0]!));
        pod.warnings.forEach(warn);
        const r = await rt.runPodSandbox({
          config: pod.config,
          runtimeHandler: String(flags.get("runtime") ?? ""),
        }).catch((err) => Promise.reject(wrapped("run pod sandbox", err)));
        out(`${r.podSandboxId}\n`);
        return 0;
      }
      case "create": {
        if (args.length !== 3) {
          throw new UsageError("crictl create: POD container-config.json pod-config.json");
        }
        if (flags.has("no-pull") && flags.has("with-pull")) {
          throw new UsageError("conflict: no-pull and with-pull are both set");
        }
        const [podId, containerPath, podPath] = args as [string, string, string];
        const config = await loadContainerConfig(this.#path(containerPath));
        const pod = await loadPodSandboxConfig(this.#path(podPath));
        pod.warnings.forEach(warn);
        const image = config.image?.image ?? "";
        if (config.image && config.image.userSpecifiedImage === "") {
          config.image.userSpecifiedImage = image;
        }
        // crictl pulls on create only when asked (pull-image-on-create is false by default).
        if (flags.has("with-pull")) {
          write("stderr", `INFO[0000] Pulling container image: ${image}\n`);
          await this.#client.image.pullImage({
            image: { image, annotations: config.image?.annotations ?? {} },
            auth: authOf(flags),
            sandboxConfig: pod.config,
          }).catch((err) => Promise.reject(wrapped("creating container", err)));
        }
        const r = await rt.createContainer({
          podSandboxId: podId,
          config,
          sandboxConfig: pod.config,
        }).catch((err) => Promise.reject(wrapped("creating container", err)));
        out(`${r.containerId}\n`);
        return 0;
      }
      case "start":
        for (const id of ids()) {
          await rt.startContainer({ containerId: id })
            .catch((err) => Promise.reject(wrapped(`starting the container "${id}"`, err)));
          out(`${id}\n`);
        }
        return 0;
      case "ps":
        if (args.length !== 0) throw new UsageError("crictl ps takes no arguments");
        out(await this.#ps(flags));
        return 0;
      case "logs": {
        if (args.length !== 1) throw new UsageError("crictl logs: one container id");
        const { status } = await rt.containerStatus({ containerId: args[0]!, verbose: false });
        if (!status?.logPath) throw new Error("the container has not set log path");
        await Deno.stat(status.logPath); // crictl fails on a missing file; readCriLog would not
        let lines = await readCriLog(status.logPath);
        if (flags.has("tail")) {
          const n = Number(flags.get("tail"));
          if (n >= 0) lines = lines.slice(Math.max(0, lines.length - n));
        }
        // k8s.io/cri-client's ReadLogs: a full line ends with a newline, a partial one does not.
        for (const l of lines) write(l.stream, l.tag === "F" ? `${l.text}\n` : l.text);
        return 0;
      }
      case "exec":
        return await this.#exec(flags, args, write);
      case "stop":
        for (const id of ids()) {
          await rt.stopContainer({ containerId: id, timeout: Number(flags.get("timeout") ?? 0) })
            .catch((err) => Promise.reject(wrapped(`stopping the container "${id}"`, err)));
          out(`${id}\n`);
        }
        return 0;
      case "rm":
        for (const id of ids()) {
          const { status } = await rt.containerStatus({ containerId: id, verbose: false })
            .catch((err) => Promise.reject(wrapped(`getting container status "${id}"`, err)));
          if (status?.state === ContainerState.CONTAINER_RUNNING) {
            if (!flags.has("force")) {
              throw new Error(`container "${id}" is running, please stop it first`);
            }
            await rt.stopContainer({ containerId: id, timeout: 0 });
            out(`${id}\n`);
          }
          await rt.removeContainer({ containerId: id })
            .catch((err) => Promise.reject(wrapped(`removing container "${id}"`, err)));
          out(`${id}\n`);
          if (!flags.has("keep-logs") && status?.logPath) await removeLogs(status.logPath);
        }
        return 0;
      case "stopp":
        for (const id of ids()) {
          await rt.stopPodSandbox({ podSandboxId: id })
            .catch((err) => Promise.reject(wrapped(`stopping the pod sandbox "${id}"`, err)));
          out(`Stopped sandbox ${id}\n`);
        }
        return 0;
      case "rmp":
        for (const id of ids()) {
          const { status } = await rt.podSandboxStatus({ podSandboxId: id, verbose: false })
            .catch((err) => Promise.reject(wrapped(`getting sandbox status of pod "${id}"`, err)));
          if (status?.state === PodSandboxState.SANDBOX_READY) {
            if (!flags.has("force")) {
              throw new Error(`pod sandbox "${id}" is running, please stop it first`);
            }
            await rt.stopPodSandbox({ podSandboxId: id });
            out(`Stopped sandbox ${id}\n`);
          }
          await rt.removePodSandbox({ podSandboxId: id })
            .catch((err) => Promise.reject(wrapped(`removing the pod sandbox "${id}"`, err)));
          out(`Removed sandbox ${id}\n`);
        }
        return 0;
    }
    throw new UsageError(`crictl: "${verb}" is not implemented by the test crictl`);
  }

  async #ps(flags: Flags): Promise<string> {
    const state = flags.get("state");
    const states: Record<string, ContainerState> = {
      created: ContainerState.CONTAINER_CREATED,
      running: ContainerState.CONTAINER_RUNNING,
      exited: ContainerState.CONTAINER_EXITED,
      unknown: ContainerState.CONTAINER_UNKNOWN,
    };
    if (typeof state === "string" && !(state.toLowerCase() in states)) {
      throw new UsageError("--state should be one of created, running, exited or unknown");
    }
    const wanted = typeof state === "string"
      ? states[state.toLowerCase()]
      : flags.has("all")
      ? undefined
      : ContainerState.CONTAINER_RUNNING;
    const { containers } = await this.#client.runtime.listContainers({
      filter: {
        id: String(flags.get("id") ?? ""),
        podSandboxId: String(flags.get("pod") ?? ""),
        ...(wanted !== undefined ? { state: { state: wanted } } : {}),
      },
    }).catch((err) => Promise.reject(wrapped("listing containers", err)));
    const sorted = [...containers].sort((a, b) => (a.createdAt > b.createdAt ? -1 : 1));
    if (flags.has("quiet")) return sorted.map((c) => `${c.id}\n`).join("");
    const noTrunc = flags.has("no-trunc");
    const now = Date.now();
    const rows = [[
      "CONTAINER",
      "IMAGE",
      "CREATED",
      "STATE",
      "NAME",
      "ATTEMPT",
      "POD ID",
      "POD",
      "NAMESPACE",
    ]];
    for (const c of sorted) rows.push(psRow(c, noTrunc, now));
    return table(rows);
  }

  async #exec(
    flags: Flags,
    args: string[],
    write: (stream: "stdout" | "stderr", text: string) => void,
  ): Promise<number> {
    if (args.length < 2) throw new UsageError("crictl exec: CONTAINER-ID COMMAND [ARG...]");
    const [id, ...cmd] = args as [string, ...string[]];
    const rt = this.#client.runtime;
    if (flags.has("sync")) {
      const timeout = Number(flags.get("timeout") ?? 0);
      const r = await rt.execSync({ containerId: id, cmd, timeout })
        .catch((err) =>
          Promise.reject(wrapped(`execing command in container ${id} synchronously`, err))
        );
      // crictl prints each stream with fmt.Println: the output, then a newline, for both.
      const dec = new TextDecoder();
      write("stdout", `${dec.decode(r.stdout)}\n`);
      write("stdout", `${dec.decode(r.stderr)}\n`);
      if (r.exitCode !== 0) {
        write("stderr", "non-zero exit code\n");
        return r.exitCode;
      }
      return 0;
    }
    const { url } = await rt.exec({
      containerId: id,
      cmd,
      tty: false,
      stdin: false,
      stdout: true,
      stderr: true,
    }).catch((err) => Promise.reject(wrapped(`execing command in container ${id}`, err)));
    const r = await spdyExec(url, { stdout: true, stderr: true });
    write("stdout", r.stdout);
    write("stderr", r.stderr);
    if (r.status.exitCode !== 0) {
      throw new Error(
        `execing command in container ${id}: command terminated with exit code ${
          r.status.exitCode ?? r.status.raw
        }`,
      );
    }
    return 0;
  }
}

function psRow(c: Container, noTrunc: boolean, now: number): string[] {
  let image = c.image?.image ?? "";
  // The kubelet passes the image id: crictl shortens what parses as a digest.
  if (!noTrunc && /^sha256:[0-9a-f]{64}$/.test(image)) image = truncated(image, "sha256:");
  const label = (k: string) => c.labels[k] ?? "unknown";
  return [
    noTrunc ? c.id : truncated(c.id),
    image,
    `${humanDuration(now - Number(c.createdAt / 1_000_000n))} ago`,
    STATE_NAMES[c.state] ?? "Unknown",
    c.metadata?.name ?? "",
    String(c.metadata?.attempt ?? 0),
    noTrunc ? c.podSandboxId : truncated(c.podSandboxId),
    label("io.kubernetes.pod.name"),
    label("io.kubernetes.pod.namespace"),
  ];
}

function authOf(flags: Flags): { username?: string; password?: string; auth?: string } | undefined {
  const creds = flags.get("creds");
  const auth = flags.get("auth");
  if (typeof creds === "string" && typeof auth === "string") {
    throw new UsageError("both `--creds` and `--auth` are specified");
  }
  if (typeof creds === "string") {
    const i = creds.indexOf(":");
    return i < 0
      ? { username: creds, password: "" }
      : { username: creds.slice(0, i), password: creds.slice(i + 1) };
  }
  return typeof auth === "string" ? { auth } : undefined;
}

/** crictl's `fmt.Errorf("<what>: %w", err)` around a gRPC error. */
function wrapped(what: string, err: unknown): Error {
  const e = err as { code?: number; details?: string; message?: string };
  const grpc = typeof e.code === "number"
    ? `rpc error: code = ${GRPC_CODES[e.code] ?? e.code} desc = ${e.details ?? ""}`
    : e.message ?? String(err);
  return new Error(`${what}: ${grpc}`, { cause: err });
}

const GRPC_CODES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

/** `crictl rm` without `-k`: the log file and its rotations (`<path>.*`). */
async function removeLogs(logPath: string): Promise<void> {
  const dir = logPath.slice(0, logPath.lastIndexOf("/")) || "/";
  const base = logPath.slice(dir.length + 1);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name === base || e.name.startsWith(`${base}.`)) names.push(e.name);
    }
  } catch {
    return;
  }
  for (const n of names) await Deno.remove(`${dir}/${n}`).catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// The shell a README's commands are typed into: just enough of it.

/** One command line: `crictl ARGS…`, optionally captured as `NAME=$(crictl ARGS…)`. */
export interface ShellCommand {
  /** The variable the command's stdout is assigned to (trailing newlines removed). */
  assign?: string;
  /** The command's words after expansion: `["crictl", "runp", "examples/pod.json"]`. */
  argv: string[];
}

/**
 * Parses one line of the shell subset a README uses: words separated by blanks, `"…"` (with
 * `$NAME` / `${NAME}` expanded) and `'…'` quoting, unquoted `$NAME`, a trailing `# comment`,
 * and `NAME=$(…)` around a whole command. Returns undefined for a blank or comment line;
 * throws on anything else (pipes, redirections, `;`, `&&`, an unset variable).
 */
export function parseShellLine(
  line: string,
  vars: Readonly<Record<string, string>>,
): ShellCommand | undefined {
  let text = line.trim();
  if (text === "" || text.startsWith("#")) return undefined;
  let assign: string | undefined;
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=\$\((.*)\)(\s+#.*)?$/.exec(text);
  if (m) {
    assign = m[1]!;
    text = m[2]!;
  }
  const words: string[] = [];
  let cur: string | undefined;
  const expand = (name: string) => {
    const v = vars[name];
    if (v === undefined) throw new UsageError(`shell: $${name} is not set`);
    return v;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === " " || c === "\t") {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === "#" && cur === undefined) {
      if (assign !== undefined) throw new UsageError(`shell: a comment inside $(…): ${line}`);
      break;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`shell: unterminated quote: ${line}`);
      cur = (cur ?? "") + text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new UsageError(`shell: unterminated quote: ${line}`);
      const inner = text.slice(i + 1, end);
      if (/[`\\]|\$\(/.test(inner)) throw new UsageError(`shell: unsupported quoting: ${line}`);
      cur = (cur ?? "") +
        inner.replace(
          /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
          (_, a, b) => expand(a ?? b),
        );
      i = end;
    } else if (c === "$") {
      const v = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}|^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
      if (!v) throw new UsageError(`shell: unsupported expansion: ${line}`);
      cur = (cur ?? "") + expand(v[1] ?? v[2]!);
      i += v[0].length - 1;
    } else if ("|&;<>()`\\*?[]{}~".includes(c)) {
      throw new UsageError(
        `shell: "${c}" is more shell than the README's commands may use: ${line}`,
      );
    } else {
      cur = (cur ?? "") + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  if (words.length === 0) throw new UsageError(`shell: an empty command: ${line}`);
  return { ...(assign !== undefined ? { assign } : {}), argv: words };
}
