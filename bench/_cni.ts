/**
 * Pod networks for the two runtimes: the plugin chain of sauropod's shipped conflist
 * (`deploy/cni/10-sauropod.conflist`), with a network name, bridge and subnet of each
 * runtime's own, so that the runtimes never share a bridge, host-local IPAM state or
 * masquerade rules, and nothing collides with networks already on the machine.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** The shipped conflist, the source of the plugin chain. */
export const DEFAULT_CONFLIST = new URL("../deploy/cni/10-sauropod.conflist", import.meta.url);

/** What differs between the two runtimes' networks. */
export interface NetworkIdentity {
  /** CNI network name (also the key of the plugins' state). */
  readonly name: string;
  /** Bridge device name (at most 15 bytes, IFNAMSIZ - 1). */
  readonly bridge: string;
  /** IPv4 subnet in CIDR notation. */
  readonly subnet: string;
  /** Directory of host-local's allocations, so none land in /var/lib/cni. */
  readonly ipamDataDir: string;
}

type Json = Record<string, unknown>;

/**
 * The shipped conflist re-targeted at `id`: every plugin kept in order with its settings,
 * the bridge plugin's device and the host-local range replaced.
 */
export function benchConflist(base: Json, id: NetworkIdentity): Json {
  if (new TextEncoder().encode(id.bridge).length > 15) {
    throw invalidArgument(`bridge name "${id.bridge}" is longer than 15 bytes`);
  }
  const plugins = base.plugins;
  if (!Array.isArray(plugins)) throw invalidArgument("conflist has no plugins array");
  let bridges = 0;
  const out = plugins.map((p: Json) => {
    if (p.type !== "bridge") return structuredClone(p);
    bridges++;
    const ipam = (p.ipam ?? {}) as Json;
    return {
      ...structuredClone(p),
      bridge: id.bridge,
      ipam: {
        ...structuredClone(ipam),
        ranges: [[{ subnet: id.subnet }]],
        dataDir: id.ipamDataDir,
      },
    };
  });
  if (bridges !== 1) {
    throw invalidArgument(`conflist has ${bridges} bridge plugins; the bench needs exactly one`);
  }
  return { ...structuredClone(base), name: id.name, plugins: out };
}

/** Parses `a.b.c.d/len` into a 32-bit network number and prefix length. */
function parseCidr(cidr: string): { net: number; len: number } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (octets.some((o) => o > 255) || len > 32) return undefined;
  const addr = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { net: (addr & mask) >>> 0, len };
}

/** True when the two CIDRs share any address. */
export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const len = Math.min(x.len, y.len);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((x.net & mask) >>> 0) === ((y.net & mask) >>> 0);
}

/**
 * `count` /16 subnets in 10.200.0.0–10.249.255.255 that overlap none of `inUse` (the
 * destinations of the host's routes), starting at an offset derived from `seed` so two
 * concurrent runs are unlikely to pick the same ones.
 */
export function pickSubnets(inUse: readonly string[], count: number, seed: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < 50 && out.length < count; i++) {
    const candidate = `10.${200 + (seed + i) % 50}.0.0/16`;
    if (inUse.some((r) => overlaps(r, candidate))) continue;
    out.push(candidate);
  }
  if (out.length < count) {
    throw invalidArgument(`no free /16 left in 10.200.0.0/11 for ${count} bench networks`);
  }
  return out;
}

/** Destinations of the host's IPv4 routes (all tables), as CIDRs. */
export async function routedSubnets(): Promise<string[]> {
  const out = await new Deno.Command("ip", {
    args: ["-4", "-j", "route", "show", "table", "all"],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) return [];
  const routes = JSON.parse(new TextDecoder().decode(out.stdout)) as { dst?: string }[];
  return routes.map((r) => r.dst ?? "").filter((d) => d !== "" && d !== "default")
    .map((d) => d.includes("/") ? d : `${d}/32`);
}
