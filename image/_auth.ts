/**
 * Registry authorization: the docker token flow and basic auth, per endpoint host.
 *
 * On a 401 the registry's `WWW-Authenticate` challenge says what to do:
 * - `Basic`: send the credentials on every request to that host.
 * - `Bearer realm=…,service=…,scope=…`: get a token from the realm — anonymously, with
 *   basic credentials (docker's GET), or with an identity token as an OAuth2 refresh
 *   token (POST, as containerd does) — and send it as `Authorization: Bearer`.
 * A CRI `registry_token` is used as the bearer token directly.
 *
 * Tokens are cached per host and scope until shortly before they expire. The realm is a
 * place the registry chose: it, and any redirect of the token request, must pass the same
 * rules as the registry's redirects (`_redirects.ts`), and a malformed token response is
 * reported without quoting it.
 *
 * @module
 */
import { permissionDenied, SauropodError, unavailable, wrap } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type Challenge, parseChallenges } from "./_challenge.ts";
import { fetchFollowing } from "./_redirects.ts";

/** Credentials for one registry host (CRI `AuthConfig`, config file `auths`). */
export interface Credentials {
  username?: string;
  password?: string;
  /** base64 of `user:password`. */
  auth?: string;
  identityToken?: string;
  registryToken?: string;
}

/** Decodes `auth` (base64 `user:password`) into username and password. */
export function decodeBasicAuth(auth: string): { username: string; password: string } {
  let text: string;
  try {
    text = atob(auth.trim());
  } catch {
    throw permissionDenied("registry auth is not valid base64");
  }
  const colon = text.indexOf(":");
  if (colon === -1) throw permissionDenied('registry auth does not decode to "user:password"');
  // Docker config files sometimes carry NUL padding after the password (containerd trims it).
  return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/\0+$/, "") };
}

/** The username and secret to use, or undefined for anonymous access. */
export function userAndSecret(c: Credentials | undefined):
  | { username: string; password: string }
  | { refreshToken: string }
  | undefined {
  if (!c) return undefined;
  if (c.username) return { username: c.username, password: c.password ?? "" };
  if (c.identityToken) return { refreshToken: c.identityToken };
  if (c.auth) return decodeBasicAuth(c.auth);
  return undefined;
}

const encoder = new TextEncoder();

function basicHeader(username: string, password: string): string {
  const bytes = encoder.encode(`${username}:${password}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Fetches a URL; the registry client passes its own (timeouts, request counting). */
export type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/** Authorization state for all hosts of one agent. */
export class Authorizer {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #basic = new Map<string, string>();
  readonly #log: Logger;
  readonly #fetch: Fetcher;

  /** Creates an authorizer that fetches tokens with `fetcher`. */
  constructor(log: Logger, fetcher: Fetcher) {
    this.#log = log;
    this.#fetch = fetcher;
  }

  /** The Authorization header already known for `host` and `scope`, if any. */
  header(host: string, scope: string, creds: Credentials | undefined): string | undefined {
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const t = this.#tokens.get(`${host} ${scope} ${credKey(creds)}`);
    if (t && t.expiresAt > Date.now()) return t.header;
    return this.#basic.get(`${host} ${credKey(creds)}`);
  }

  /**
   * Answers a 401 from `host`: parses its challenge and obtains what it asks for. Throws
   * permission-denied when the registry wants credentials we do not have or refuses ours.
   */
  async challenge(
    host: string,
    registry: URL,
    scope: string,
    wwwAuthenticate: string | null,
    creds: Credentials | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const challenges = parseChallenges(wwwAuthenticate ?? "");
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    const who = userAndSecret(creds);
    if (bearer && bearer.params.realm) {
      const header = await this.#fetchToken(host, registry, bearer, scope, who, signal);
      this.#tokens.set(`${host} ${scope} ${credKey(creds)}`, header);
      return;
    }
    if (basic) {
      if (!who || !("username" in who)) {
        throw permissionDenied(`registry ${host} requires a username and password`);
      }
      this.#basic.set(`${host} ${credKey(creds)}`, basicHeader(who.username, who.password));
      return;
    }
    const schemes = challenges.map((c) => c.scheme).filter((c) => /^[a-z0-9-]{1,32}$/.test(c));
    throw permissionDenied(
      `registry ${host} requires authorization but sent no usable challenge` +
        (schemes.length > 0 ? ` (schemes: ${schemes.slice(0, 8).join(", ")})` : ""),
    );
  }

  /** Forgets what `host` refused, so the next 401 starts over. */
  forget(host: string, scope: string, creds: Credentials | undefined): void {
    this.#tokens.delete(`${host} ${scope} ${credKey(creds)}`);
    this.#basic.delete(`${host} ${credKey(creds)}`);
  }

  async #fetchToken(
    host: string,
    registry: URL,
    ch: Challenge,
    scope: string,
    who: ReturnType<typeof userAndSecret>,
    signal: AbortSignal,
  ): Promise<CachedToken> {
    const realm = ch.params.realm!;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw permissionDenied(`registry ${host} sent a malformed token realm`);
    }
    const service = ch.params.service;
    // The registry's own scope (it may ask for more, e.g. push) wins over ours.
    const wantScope = ch.params.scope || scope;
    const follow = {
      registry,
      who: `registry ${host}`,
      what: "its token request",
    };
    let res: Response;
    try {
      if (who && "refreshToken" in who) {
        const form = new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: who.refreshToken,
          client_id: "sauropod",
          scope: wantScope,
        });
        if (service) form.set("service", service);
        ({ res } = await fetchFollowing(this.#fetch, url, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form.toString(),
          signal,
        }, follow));
      } else {
        if (service) url.searchParams.set("service", service);
        url.searchParams.set("scope", wantScope);
        const headers: Record<string, string> = {};
        if (who) headers.authorization = basicHeader(who.username, who.password);
        ({ res } = await fetchFollowing(this.#fetch, url, { headers, signal }, follow));
      }
    } catch (err) {
      if (signal.aborted || err instanceof SauropodError) throw err;
      throw wrap(err, `cannot reach token service ${url.host} of registry ${host}`, "unavailable");
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw permissionDenied(
        `token service ${url.host} of registry ${host} refused ${
          who ? "the credentials" : "anonymous access"
        } for ${wantScope} (HTTP ${res.status})`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unavailable(
        `token service ${url.host} of registry ${host} answered HTTP ${res.status}`,
      );
    }
    let body: Record<string, unknown>;
    try {
      const text = await readSmall(res, MAX_TOKEN_RESPONSE_BYTES);
      const v: unknown = JSON.parse(text);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
      body = v as Record<string, unknown>;
    } catch (err) {
      if (signal.aborted || err instanceof SauropodError) throw err;
      // Not wrapped: a JSON parse error quotes the body, and the body is the token
      // service's (it would reach pod events).
      throw permissionDenied(
        `token service ${url.host} of registry ${host} sent a response that is not a JSON object`,
      );
    }
    const token = typeof body.token === "string" && body.token
      ? body.token
      : typeof body.access_token === "string"
      ? body.access_token
      : "";
    if (!token) {
      throw permissionDenied(`token service ${url.host} of registry ${host} sent no token`);
    }
    const expiresIn = typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : 60;
    this.#log.debug("registry token obtained", { registry: host, scope: wantScope, expiresIn });
    // Refresh a little early so a token never expires mid-request.
    return {
      header: `Bearer ${token}`,
      expiresAt: Date.now() + Math.max(1, expiresIn - 10) * 1000,
    };
  }
}

/** A token response larger than this is refused (tokens are a few KiB). */
const MAX_TOKEN_RESPONSE_BYTES = 1 << 20;

/** Reads a small text body, refusing more than `max` bytes. */
async function readSmall(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.length;
    if (n > max) {
      await res.body.cancel().catch(() => {});
      throw permissionDenied(`token response is larger than ${max} bytes`);
    }
    parts.push(chunk);
  }
  const all = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(all);
}

function credKey(c: Credentials | undefined): string {
  if (!c) return "-";
  return [c.username ?? "", c.auth ?? "", c.identityToken ? "id" : "", c.password ? "pw" : ""]
    .join("|") + `|${hash(c.password ?? c.identityToken ?? "")}`;
}

/** A short non-cryptographic fingerprint so different passwords get different cache keys. */
function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16);
}
