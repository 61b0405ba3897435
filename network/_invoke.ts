/**
 * One CNI plugin invocation, per the spec's execution protocol: the `CNI_*` environment,
 * the execution configuration on stdin (section 3, "Deriving execution configuration"),
 * the result or error on stdout, and a deadline.
 *
 * @module
 */
import {
  type ErrorKind,
  failedPrecondition,
  invalidArgument,
  isNotFound,
  SauropodError,
} from "../errors/mod.ts";
import type { NetworkConfList, PluginConf } from "./_conf.ts";
import { runProcess, tailText } from "./_exec.ts";
import { type CniErrorResult, parseErrorResult, parseResult, ResultError } from "./_result.ts";
import type { PodNetworkRequest } from "./types.ts";

/** The interface every pod gets (containerd's and CRI-O's default). */
export const POD_IFNAME = "eth0";

/** Capability arguments by capability name (CNI CONVENTIONS.md). */
export type CapabilityArgs = Record<string, unknown>;

/** Generic arguments, joined into `CNI_ARGS` as `K=V;K=V`. */
export type CniArgs = readonly (readonly [string, string])[];

/** A CNI command. */
export type CniCommand = "ADD" | "DEL" | "CHECK";

const CONTAINER_ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** Validates the fields of a request that end up in `CNI_*` variables and file names. */
export function validateRequest(req: Partial<PodNetworkRequest>, full: boolean): void {
  if (typeof req.podId !== "string" || !CONTAINER_ID_RE.test(req.podId)) {
    throw invalidArgument(
      `podId ${JSON.stringify(req.podId)} is not a valid CNI container id ` +
        "(a letter or digit, then letters, digits, '_', '.' or '-')",
    );
  }
  if (req.netnsPath !== undefined && req.netnsPath !== "" && !req.netnsPath.startsWith("/")) {
    throw invalidArgument(`netnsPath ${JSON.stringify(req.netnsPath)} must be absolute`);
  }
  if (!full) return;
  if (!req.netnsPath) throw invalidArgument("netnsPath is required to attach a pod");
  for (const key of ["name", "namespace", "uid"] as const) {
    const v = req[key];
    if (typeof v !== "string") throw invalidArgument(`${key} is required`);
    if (/[;=\s]/.test(v)) {
      throw invalidArgument(`${key} ${JSON.stringify(v)} may not contain ';', '=' or spaces`);
    }
  }
  (req.portMappings ?? []).forEach((pm, i) => {
    if (!["tcp", "udp", "sctp"].includes(pm.protocol)) {
      throw invalidArgument(
        `portMappings[${i}].protocol ${JSON.stringify(pm.protocol)} is unknown`,
      );
    }
    if (!isPort(pm.containerPort, 1)) {
      throw invalidArgument(`portMappings[${i}].containerPort ${pm.containerPort} is out of range`);
    }
    if (!isPort(pm.hostPort, 0)) {
      throw invalidArgument(`portMappings[${i}].hostPort ${pm.hostPort} is out of range`);
    }
  });
  for (const dir of ["ingressRate", "egressRate"] as const) {
    const v = req.bandwidth?.[dir];
    if (v !== undefined && (!Number.isSafeInteger(v) || v <= 0)) {
      throw invalidArgument(`bandwidth.${dir} must be a positive number of bits per second`);
    }
  }
}

function isPort(n: number, min: number): boolean {
  return Number.isInteger(n) && n >= min && n <= 65535;
}

/** The generic arguments of a pod, as containerd sends them. */
export function podCniArgs(req: PodNetworkRequest): CniArgs {
  return [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", req.namespace],
    ["K8S_POD_NAME", req.name],
    ["K8S_POD_INFRA_CONTAINER_ID", req.podId],
    ["K8S_POD_UID", req.uid],
  ];
}

/**
 * The capability arguments a pod offers. Only those a plugin declares in its
 * `capabilities` reach it (see {@link executionConfig}).
 */
export function podCapabilityArgs(
  req: PodNetworkRequest,
  podCidrs: readonly string[],
): CapabilityArgs {
  const caps: CapabilityArgs = {};
  const ports = req.portMappings.filter((pm) => pm.hostPort > 0).map((pm) => ({
    hostPort: pm.hostPort,
    containerPort: pm.containerPort,
    protocol: pm.protocol,
    ...(pm.hostIp ? { hostIP: pm.hostIp } : {}),
  }));
  if (ports.length > 0) caps["portMappings"] = ports;
  const bw = req.bandwidth;
  if (bw && (bw.ingressRate !== undefined || bw.egressRate !== undefined)) {
    // The bandwidth plugin wants a burst with every rate; like containerd, do not cap it.
    const unlimited = 0xffffffff;
    caps["bandwidth"] = {
      ...(bw.ingressRate !== undefined
        ? { ingressRate: bw.ingressRate, ingressBurst: unlimited }
        : {}),
      ...(bw.egressRate !== undefined ? { egressRate: bw.egressRate, egressBurst: unlimited } : {}),
    };
  }
  if (req.dns) {
    caps["dns"] = {
      servers: [...req.dns.servers],
      searches: [...req.dns.searches],
      options: [...req.dns.options],
    };
  }
  if (req.cgroupParent) caps["cgroupPath"] = req.cgroupParent;
  if (podCidrs.length > 0) caps["ipRanges"] = podCidrs.map((subnet) => [{ subnet }]);
  if (req.annotations) caps["io.kubernetes.cri.pod-annotations"] = { ...req.annotations };
  return caps;
}

/**
 * The configuration a plugin reads on stdin: its own object with `cniVersion` and `name`
 * of the list, `runtimeConfig` holding the capabilities it declared and we offer,
 * `prevResult` when given, and without `capabilities`.
 *
 * Generic arguments travel only in `CNI_ARGS`, not as an `args` object: that is what
 * libcni does and what plugins expect (host-local reads `args.cni.ips` from the config
 * file, and an injected object would shadow it).
 */
export function executionConfig(
  list: Pick<NetworkConfList, "name" | "cniVersion">,
  plugin: PluginConf,
  caps: CapabilityArgs,
  prevResult?: unknown,
): Record<string, unknown> {
  const { capabilities, ...rest } = plugin;
  const out: Record<string, unknown> = { ...rest, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  if (isObject(capabilities)) {
    for (const [cap, on] of Object.entries(capabilities)) {
      if (on === true && caps[cap] !== undefined) runtimeConfig[cap] = caps[cap];
    }
  }
  if (Object.keys(runtimeConfig).length > 0) out["runtimeConfig"] = runtimeConfig;
  else delete out["runtimeConfig"];
  if (prevResult !== undefined) out["prevResult"] = prevResult;
  else delete out["prevResult"];
  return out;
}

/** The protocol parameters of one invocation. */
export function pluginEnv(
  command: CniCommand,
  p: {
    containerId: string;
    netns: string;
    ifName: string;
    args: CniArgs;
    binDirs: readonly string[];
  },
): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: p.containerId,
    CNI_NETNS: p.netns,
    CNI_IFNAME: p.ifName,
    CNI_ARGS: p.args.map(([k, v]) => `${k}=${v}`).join(";"),
    CNI_PATH: p.binDirs.join(":"),
  };
}

/** The path of plugin `type` in the first of `binDirs` holding an executable of that name. */
export async function findPlugin(
  type: string,
  binDirs: readonly string[],
): Promise<string | undefined> {
  for (const dir of binDirs) {
    const path = `${dir}/${type}`;
    try {
      const info = await Deno.stat(path);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return path;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** A plugin that returned an error result (or failed without one). */
export class CniPluginError extends Error {
  /** The plugin type, e.g. `bridge`. */
  readonly plugin: string;
  /** The network name. */
  readonly network: string;
  readonly command: CniCommand;
  /** The error result the plugin printed, when it printed one. */
  readonly result: CniErrorResult | undefined;
  readonly exitCode: number;

  /** Builds the error; the message quotes the plugin's own. */
  constructor(
    p: {
      plugin: string;
      network: string;
      command: CniCommand;
      result: CniErrorResult | undefined;
      exitCode: number;
      stderr: string;
      stdout: string;
    },
  ) {
    let msg = `CNI plugin "${p.plugin}" failed ${p.command} on network "${p.network}"`;
    if (p.result) {
      msg += `: code ${p.result.code}: ${JSON.stringify(p.result.msg)}`;
      if (p.result.details) msg += ` (details: ${JSON.stringify(p.result.details)})`;
    } else {
      msg += ` with exit code ${p.exitCode}`;
      const out = p.stderr || p.stdout;
      if (out) msg += `: ${JSON.stringify(out)}`;
    }
    super(msg);
    this.name = "CniPluginError";
    this.plugin = p.plugin;
    this.network = p.network;
    this.command = p.command;
    this.result = p.result;
    this.exitCode = p.exitCode;
  }
}

/** Maps a CNI error code onto our kinds (spec "Well-known Error Codes"). */
export function kindOfCniCode(code: number | undefined): ErrorKind {
  switch (code) {
    case 1: // incompatible CNI version
    case 2: // unsupported field in network configuration
    case 6: // failed to decode content
    case 7: // invalid network config
      return "failed-precondition";
    case 3: // container unknown or does not exist
      return "not-found";
    case 11: // try again later
      return "unavailable";
    default:
      return "internal";
  }
}

/** Everything one invocation needs. */
export interface Invocation {
  readonly command: CniCommand;
  readonly list: Pick<NetworkConfList, "name" | "cniVersion">;
  readonly plugin: PluginConf;
  readonly binDirs: readonly string[];
  readonly containerId: string;
  /** Empty for a DEL whose netns is gone (the spec makes `CNI_NETNS` optional there). */
  readonly netns: string;
  readonly ifName: string;
  readonly args: CniArgs;
  readonly caps: CapabilityArgs;
  readonly prevResult?: unknown;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/** What an invocation returned. */
export interface InvocationOutcome {
  /** The raw result JSON (ADD), kept verbatim to chain as the next `prevResult`. */
  readonly result: unknown;
  /** Plugin log lines, for debugging. */
  readonly stderr: string;
}

/**
 * Runs one plugin. Throws a {@link SauropodError} whose cause is a {@link CniPluginError}
 * when the plugin fails, deadline-exceeded naming the plugin when it hangs, and
 * failed-precondition when it is not installed.
 */
export async function invokePlugin(inv: Invocation): Promise<InvocationOutcome> {
  const type = inv.plugin.type;
  const where = `CNI plugin "${type}" (${inv.command}, network "${inv.list.name}")`;
  const path = await findPlugin(type, inv.binDirs);
  if (!path) {
    throw failedPrecondition(
      `CNI plugin "${type}" of network "${inv.list.name}" not found in ${inv.binDirs.join(":")}`,
    );
  }
  const config = executionConfig(inv.list, inv.plugin, inv.caps, inv.prevResult);
  let out;
  try {
    out = await runProcess(path, {
      env: pluginEnv(inv.command, inv),
      stdin: new TextEncoder().encode(JSON.stringify(config)),
      timeoutMs: inv.timeoutMs,
      signal: inv.signal,
      what: where,
    });
  } catch (err) {
    // runProcess already names the plugin in deadline-exceeded and canceled errors.
    if (isNotFound(err)) {
      throw failedPrecondition(`${where}: ${path} vanished`, { cause: err });
    }
    throw err;
  }
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = tailText(out.stderr);
  if (out.code !== 0) {
    const result = parseErrorResult(stdout);
    const cause = new CniPluginError({
      plugin: type,
      network: inv.list.name,
      command: inv.command,
      result,
      exitCode: out.code,
      stderr,
      stdout: stdout.slice(0, 2048),
    });
    throw new SauropodError(kindOfCniCode(result?.code), cause.message, { cause });
  }
  if (inv.command !== "ADD") return { result: undefined, stderr };
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
    parseResult(raw);
  } catch (err) {
    const why = err instanceof ResultError ? err.message : "not valid JSON";
    throw new SauropodError(
      "internal",
      `${where} succeeded but printed an unusable result (${why}): ${
        JSON.stringify(stdout.slice(0, 512))
      }`,
      { cause: err },
    );
  }
  return { result: raw, stderr };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
