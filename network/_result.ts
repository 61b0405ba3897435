/**
 * CNI results: the success result of ADD (every spec version from 0.1.0 to 1.x), the error
 * result every command may print, and picking the pod's addresses out of a result.
 *
 * @module
 */
import type { NetworkInterface } from "./types.ts";

/** One IP configuration of a result (spec 0.3.0+ shape). */
export interface CniIpConfig {
  /** Address with prefix length, e.g. `10.88.0.5/16`. */
  readonly address: string;
  readonly gateway?: string;
  /** Index into the result's `interfaces`; absent from IPAM results. */
  readonly interface?: number;
}

/** A success result, normalised to the 1.0.0 shape whatever version produced it. */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces: readonly NetworkInterface[];
  readonly ips: readonly CniIpConfig[];
}

/** The error result of the spec (`{cniVersion, code, msg, details}`). */
export interface CniErrorResult {
  readonly cniVersion?: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** Why a result could not be read. */
export class ResultError extends Error {
  /** Creates the error; `message` names what is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "ResultError";
  }
}

/**
 * Parses a success result. 0.1.0/0.2.0 results (`ip4`/`ip6`) are converted; 0.3.x and
 * 0.4.0 results drop their per-IP `version`. Throws {@link ResultError} on a malformed one.
 */
export function parseResult(raw: unknown): CniResult {
  if (!isObject(raw)) throw new ResultError("result is not a JSON object");
  const cniVersion = typeof raw["cniVersion"] === "string" ? raw["cniVersion"] : "";
  if ("ip4" in raw || "ip6" in raw) return parseLegacy(raw, cniVersion);

  const interfaces: NetworkInterface[] = [];
  const rawIfs = raw["interfaces"] ?? [];
  if (!Array.isArray(rawIfs)) throw new ResultError('"interfaces" is not a list');
  rawIfs.forEach((itf, i) => {
    if (!isObject(itf) || typeof itf["name"] !== "string") {
      throw new ResultError(`interfaces[${i}] has no name`);
    }
    interfaces.push({
      name: itf["name"],
      ...(typeof itf["mac"] === "string" && itf["mac"] !== "" ? { mac: itf["mac"] } : {}),
      ...(typeof itf["sandbox"] === "string" && itf["sandbox"] !== ""
        ? { sandbox: itf["sandbox"] }
        : {}),
    });
  });

  const ips: CniIpConfig[] = [];
  const rawIps = raw["ips"] ?? [];
  if (!Array.isArray(rawIps)) throw new ResultError('"ips" is not a list');
  rawIps.forEach((ip, i) => {
    if (!isObject(ip) || typeof ip["address"] !== "string") {
      throw new ResultError(`ips[${i}] has no address`);
    }
    const address = ip["address"];
    if (!parseCidr(address)) throw new ResultError(`ips[${i}].address "${address}" is not a CIDR`);
    const index = ip["interface"];
    if (index !== undefined && index !== null) {
      if (typeof index !== "number" || !Number.isInteger(index) || index < 0) {
        throw new ResultError(`ips[${i}].interface is not an index`);
      }
      if (index >= interfaces.length) {
        throw new ResultError(
          `ips[${i}].interface ${index} is out of range (${interfaces.length} interfaces)`,
        );
      }
    }
    ips.push({
      address,
      ...(typeof ip["gateway"] === "string" && ip["gateway"] !== ""
        ? { gateway: ip["gateway"] }
        : {}),
      ...(typeof index === "number" ? { interface: index } : {}),
    });
  });
  return { cniVersion, interfaces, ips };
}

function parseLegacy(raw: Record<string, unknown>, cniVersion: string): CniResult {
  const ips: CniIpConfig[] = [];
  for (const key of ["ip4", "ip6"]) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (!isObject(v) || typeof v["ip"] !== "string" || !parseCidr(v["ip"])) {
      throw new ResultError(`"${key}.ip" is not a CIDR`);
    }
    ips.push({
      address: v["ip"],
      ...(typeof v["gateway"] === "string" ? { gateway: v["gateway"] } : {}),
    });
  }
  return { cniVersion, interfaces: [], ips };
}

/**
 * Reads an error result from a failed plugin's stdout, or `undefined` when stdout is not
 * one (a crash, a panic trace, nothing at all).
 */
export function parseErrorResult(stdout: string): CniErrorResult | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  if (!isObject(raw) || typeof raw["code"] !== "number") return undefined;
  return {
    code: raw["code"],
    msg: typeof raw["msg"] === "string" ? raw["msg"] : "",
    ...(typeof raw["cniVersion"] === "string" ? { cniVersion: raw["cniVersion"] } : {}),
    ...(typeof raw["details"] === "string" && raw["details"] !== ""
      ? { details: raw["details"] }
      : {}),
  };
}

/**
 * The addresses of the pod's interface `ifName`, without prefix length: IPs whose
 * `interface` names it, plus IPs without an interface index (which, as in go-cni, belong to
 * the default interface). The first IPv4 address comes first (containerd's default
 * `ip_pref = ipv4`), the others keep their order.
 */
export function podIps(result: CniResult, ifName: string): string[] {
  const mine = result.ips.filter((ip) =>
    ip.interface === undefined || result.interfaces[ip.interface]?.name === ifName
  );
  const addrs = [...new Set(mine.map((ip) => ip.address.split("/")[0]!))];
  const v4 = addrs.findIndex((a) => !a.includes(":"));
  if (v4 > 0) addrs.unshift(...addrs.splice(v4, 1));
  return addrs;
}

/** The family and prefix length of a CIDR, or `undefined` when it is not one. */
export function parseCidr(cidr: string): { family: 4 | 6; ip: string; prefix: number } | undefined {
  const slash = cidr.indexOf("/");
  if (slash < 0) return undefined;
  const ip = cidr.slice(0, slash);
  const p = cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (isIPv4(ip)) return prefix <= 32 ? { family: 4, ip, prefix } : undefined;
  if (isIPv6(ip)) return prefix <= 128 ? { family: 6, ip, prefix } : undefined;
  return undefined;
}

/** True for a dotted-quad IPv4 address. */
export function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && (p === "0" || p[0] !== "0"));
}

/** True for an IPv6 address (without zone or brackets). */
export function isIPv6(s: string): boolean {
  if (!s.includes(":") || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
