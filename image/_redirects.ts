/**
 * Where a registry may send the agent: its redirects and the token service it names.
 *
 * A registry endpoint (or mirror) may redirect a request — blobs served from object
 * storage or a CDN are the common case — and its `WWW-Authenticate` challenge names a
 * token service. Both are places the registry chooses, so each is checked before the agent
 * connects, against the endpoint the request was for:
 * - http and https only, and never from https down to plain http;
 * - no loopback address (127.0.0.0/8, ::1, 0.0.0.0/8, ::, `localhost`, `*.localhost`) and
 *   no link-local one (169.254.0.0/16, where cloud metadata services live; fe80::/10)
 *   unless the endpoint itself is of that kind: a registry on 127.0.0.1 may send us to
 *   another port of 127.0.0.1, a registry on the internet may not. An IPv4-mapped IPv6
 *   address counts as its IPv4 address. Names other than `localhost` are not resolved
 *   here: one that resolves to such an address is not caught (its address could change
 *   between a check and the connection anyway);
 * - at most {@link MAX_REDIRECTS} hops (Go's `http.Client` default, which containerd
 *   uses);
 * - credentials (`Authorization`) go to the first request's origin only, and a request
 *   with a body (the refresh-token POST) is never redirected.
 *
 * Redirects are followed here, by hand (`redirect: "manual"`), never by `fetch` itself.
 *
 * @module
 */
import { permissionDenied, unavailable } from "../errors/mod.ts";

/** Redirect hops one request may take. */
export const MAX_REDIRECTS = 10;

/** The kinds of address a registry may not send us to unless it is one itself. */
export type AddressClass = "loopback" | "link-local";

function ipv4Class(a: number, b: number): AddressClass | undefined {
  if (a === 127 || a === 0) return "loopback";
  if (a === 169 && b === 254) return "link-local";
  return undefined;
}

/** Eight 16-bit groups of an IPv6 address, or undefined when `text` is not one. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(g);
        if (!m) return undefined;
        const o = m.slice(1).map(Number);
        if (o.some((x) => x > 255)) return undefined;
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const zeros = 8 - head.length - tail.length;
  if (zeros < 1) return undefined;
  return [...head, ...new Array<number>(zeros).fill(0), ...tail];
}

/**
 * Whether `hostname` (as `URL.hostname` gives it: IPv6 in brackets, IPv4 canonical) is a
 * loopback or link-local address, or a `localhost` name.
 */
export function addressClass(hostname: string): AddressClass | undefined {
  let h = hostname.toLowerCase();
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (h === "localhost" || h.endsWith(".localhost")) return "loopback";
  if (h.startsWith("[") && h.endsWith("]")) {
    const g = ipv6Groups(h.slice(1, -1));
    if (!g) return undefined;
    if (g.slice(0, 7).every((x) => x === 0) && (g[7] === 1 || g[7] === 0)) return "loopback";
    if ((g[0]! & 0xffc0) === 0xfe80) return "link-local";
    if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
      return ipv4Class(g[6]! >> 8, g[6]! & 0xff);
    }
    return undefined;
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  if (!m) return undefined;
  return ipv4Class(Number(m[1]), Number(m[2]));
}

/**
 * Why the request may not go from `from` to `to` for the endpoint `registry`, or undefined
 * when it may.
 */
export function refusedTarget(registry: URL, from: URL, to: URL): string | undefined {
  if (to.protocol !== "http:" && to.protocol !== "https:") {
    return `${to.protocol.replace(/:$/, "")} is not http or https`;
  }
  if (from.protocol === "https:" && to.protocol === "http:") {
    return "it goes from https down to plain http";
  }
  const target = addressClass(to.hostname);
  if (target !== undefined && addressClass(registry.hostname) !== target) {
    return `it is a ${target} address and the registry is not on one`;
  }
  return undefined;
}

/** A target for a message: its origin (scheme, host, port), never its path or query. */
function place(u: URL): string {
  return u.protocol === "http:" || u.protocol === "https:" ? u.origin : `a ${u.protocol} URL`;
}

/** What {@link fetchFollowing} needs to know about the request. */
export interface FollowOptions {
  /** The endpoint whose rules apply (its API root URL). */
  registry: URL;
  /** Words for messages: `registry 127.0.0.1:5000`, `token service of registry …`. */
  who: string;
  /** What is being fetched, for messages: `blob sha256:…`. */
  what: string;
}

/** The final response and whether it came from another origin than the first request's. */
export interface Followed {
  res: Response;
  url: URL;
  crossOrigin: boolean;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches `url` with `init`, following redirects by the rules of the module doc. The
 * first URL is checked too (a token realm is a target the registry chose).
 */
export async function fetchFollowing(
  fetchFn: (url: string, init: RequestInit) => Promise<Response>,
  url: URL,
  init: RequestInit & { headers?: Record<string, string> },
  o: FollowOptions,
): Promise<Followed> {
  const first = url;
  let current = url;
  let why = refusedTarget(o.registry, o.registry, first);
  if (why) throw permissionDenied(`${o.who} sends ${o.what} to ${place(first)}, refused: ${why}`);
  for (let hop = 0;; hop++) {
    const headers: Record<string, string> = { ...init.headers };
    if (current.origin !== first.origin) {
      for (const k of Object.keys(headers)) {
        if (k.toLowerCase() === "authorization") delete headers[k];
      }
    }
    const res = await fetchFn(current.href, { ...init, headers, redirect: "manual" });
    if (!REDIRECTS.has(res.status)) {
      return { res, url: current, crossOrigin: current.origin !== first.origin };
    }
    await res.body?.cancel();
    const location = res.headers.get("location");
    if (location === null) {
      throw unavailable(`${o.who} answered HTTP ${res.status} for ${o.what} without a Location`);
    }
    if (init.body !== undefined && init.body !== null) {
      throw permissionDenied(
        `${o.who} redirected a request carrying credentials in its body (${o.what}); ` +
          "not followed",
      );
    }
    if (hop + 1 > MAX_REDIRECTS) {
      throw unavailable(`${o.who} redirected ${o.what} more than ${MAX_REDIRECTS} times`);
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw unavailable(`${o.who} redirected ${o.what} to a malformed location`);
    }
    why = refusedTarget(o.registry, current, next);
    if (why) {
      throw permissionDenied(
        `${o.who} redirected ${o.what} to ${place(next)}, refused: ${why}`,
      );
    }
    current = next;
  }
}
