/**
 * A client for the OCI distribution API (Docker registry v2), read side: resolve a tag or
 * digest to a manifest, fetch manifests and blobs.
 *
 * Endpoints per registry: its configured mirrors in order, then the registry itself
 * (`docker.io` is served by `registry-1.docker.io`). Plain http is used for mirrors that
 * say so, for registries listed as insecure and, as in Docker and containerd, for loopback
 * registries; https otherwise. A request that fails on one endpoint (unreachable, 5xx,
 * 404, refused credentials) moves on to the next; the error names every endpoint tried.
 *
 * Redirects are followed by hand, only to places the endpoint itself may send us
 * (`_redirects.ts`): no downgrade to http, no loopback or link-local address unless the
 * endpoint is one, a bounded number of hops, credentials to the endpoint's origin only.
 * Error messages never quote a response body.
 *
 * Transient failures (connection errors, 429, 502–504) are retried with exponential
 * backoff; a request that sends no response headers within {@link HEADER_TIMEOUT_MS} is
 * abandoned, and a body that stalls for the configured progress timeout is cut off.
 *
 * @module
 */
import {
  canceled,
  deadlineExceeded,
  invalidArgument,
  kindOf,
  messageOf,
  notFound,
  permissionDenied,
  SauropodError,
  unavailable,
} from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { Authorizer, type Credentials } from "./_auth.ts";
import { sha256 } from "./_digest.ts";
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from "./_manifest.ts";
import { fetchFollowing } from "./_redirects.ts";
import { DEFAULT_DOMAIN, DOCKER_HUB_HOST, isLoopbackHost, type Reference } from "./_reference.ts";

/** Response headers must arrive within this long. */
export const HEADER_TIMEOUT_MS = 30_000;
const ATTEMPTS = 3;
const BACKOFF_MS = 200;

/** One place a registry's content can be fetched from. */
export interface Endpoint {
  /** API root, e.g. `http://127.0.0.1:5000/v2`. */
  base: string;
  /** `host[:port]` of the endpoint (credentials and tokens are per host). */
  host: string;
  /** True for a configured mirror, false for the registry itself. */
  mirror: boolean;
}

/** What the registry client needs from the configuration. */
export interface RegistryOptions {
  mirrors: Record<string, string[]>;
  insecureRegistries: string[];
  /** Node-level credentials per host. */
  auths: Record<string, Credentials>;
  /** Cut off a body that sends nothing for this long; 0 disables. */
  progressTimeoutMs: number;
  logger: Logger;
  /** Counts every HTTP request (tests and metrics). */
  onRequest?: (method: string, url: string) => void;
}

/** Per-pull credentials from the CRI request, with the host they are for. */
export interface PullCredentials extends Credentials {
  /** `serverAddress` of the CRI AuthConfig: the credentials apply to that host only. */
  serverAddress?: string;
}

/** A resolved manifest (or index). */
export interface Resolved {
  endpoint: Endpoint;
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
}

function hostOf(serverAddress: string): string {
  const s = serverAddress.trim();
  try {
    return new URL(s.includes("://") ? s : `https://${s}`).host;
  } catch {
    return s;
  }
}

/** Waits `ms` or until `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function retryable(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Why one endpoint failed, for the combined error. */
interface Failure {
  endpoint: Endpoint;
  error: SauropodError;
}

/** The part of {@link RegistryOptions} a configuration reload changes. */
export type RegistryHosts = Pick<RegistryOptions, "mirrors" | "insecureRegistries" | "auths">;

/** The client. One per agent; stateless except for cached tokens. */
export class RegistryClient {
  #o: RegistryOptions;
  readonly #auth: Authorizer;

  /** Creates a client with `opts`. */
  constructor(opts: RegistryOptions) {
    this.#o = opts;
    this.#auth = new Authorizer(opts.logger, (url, init) => this.#fetch(url, init));
    // (The authorizer checks and follows the token service's redirects itself.)
  }

  /**
   * Replaces the mirrors, insecure registries and node credentials (a configuration
   * reload): pulls that start afterwards use them; a pull under way keeps the endpoints it
   * resolved.
   */
  updateHosts(hosts: RegistryHosts): void {
    this.#o = {
      ...this.#o,
      mirrors: structuredClone(hosts.mirrors),
      insecureRegistries: [...hosts.insecureRegistries],
      auths: structuredClone(hosts.auths),
    };
  }

  #fetch(url: string, init: RequestInit): Promise<Response> {
    this.#o.onRequest?.(init.method ?? "GET", url);
    return fetch(url, init);
  }

  /** The endpoints of registry `domain`, mirrors first. */
  endpoints(domain: string): Endpoint[] {
    const out: Endpoint[] = [];
    const mirrors = this.#o.mirrors[domain] ?? this.#o.mirrors["*"] ?? [];
    const registryHost = domain === DEFAULT_DOMAIN ? DOCKER_HUB_HOST : domain;
    for (const m of mirrors) {
      const withScheme = m.includes("://") ? m : `${this.#scheme(hostOf(m))}://${m}`;
      let u: URL;
      try {
        u = new URL(withScheme);
      } catch {
        throw invalidArgument(`mirror "${m}" of registry ${domain} is not a URL`);
      }
      const path = u.pathname === "/" || u.pathname === "" ? "/v2" : u.pathname.replace(/\/$/, "");
      out.push({ base: `${u.protocol}//${u.host}${path}`, host: u.host, mirror: true });
    }
    if (!out.some((e) => e.host === registryHost)) {
      out.push({
        base: `${this.#scheme(registryHost)}://${registryHost}/v2`,
        host: registryHost,
        mirror: false,
      });
    }
    return out;
  }

  #scheme(host: string): "http" | "https" {
    if (isLoopbackHost(host)) return "http";
    return this.#o.insecureRegistries.includes(host) ? "http" : "https";
  }

  /** Credentials for requests to `host`: the CRI's when they are for that host, else the node's. */
  #creds(host: string, domain: string, pull?: PullCredentials): Credentials | undefined {
    if (pull && (pull.username || pull.auth || pull.identityToken || pull.registryToken)) {
      if (
        !pull.serverAddress || hostOf(pull.serverAddress) === host ||
        hostOf(pull.serverAddress) === domain
      ) {
        return pull;
      }
    }
    return this.#o.auths[host] ??
      (host === DOCKER_HUB_HOST || host === domain ? this.#o.auths[domain] : undefined);
  }

  /**
   * One GET against one endpoint with auth, retries and the header timeout. Returns the
   * response (any status other than 401 and retryable ones); the caller reads the body.
   */
  async #get(
    ep: Endpoint,
    ref: Reference,
    suffix: string,
    headers: Record<string, string>,
    creds: Credentials | undefined,
    signal: AbortSignal,
    attempts: number,
  ): Promise<{ res: Response; abort: AbortController }> {
    const url = `${ep.base}/${ref.path}/${suffix}`;
    const registry = new URL(ep.base);
    const what = suffix.replace(/s\//, " ");
    const scope = `repository:${ref.path}:pull`;
    let challenged = false;
    for (let attempt = 1;; attempt++) {
      // Our controller cuts off a request with no headers in time (and, later, a stalled
      // body); the caller's signal cancels everything.
      const abort = new AbortController();
      const timer = setTimeout(
        () => abort.abort(new DOMException("no response headers", "TimeoutError")),
        HEADER_TIMEOUT_MS,
      );
      const h: Record<string, string> = { ...headers };
      const authz = this.#auth.header(ep.host, scope, creds);
      if (authz) h.authorization = authz;
      let res: Response;
      let crossOrigin: boolean;
      try {
        ({ res, crossOrigin } = await fetchFollowing(
          (u, init) => this.#fetch(u, init),
          new URL(url),
          { headers: h, signal: AbortSignal.any([signal, abort.signal]) },
          { registry, who: `registry ${ep.host}`, what },
        ));
      } catch (err) {
        if (signal.aborted) throw canceled(`request to ${ep.host} canceled`, { cause: err });
        if (err instanceof SauropodError) throw err; // a refused redirect: not worth a retry
        const timedOut = abort.signal.aborted;
        if (attempt < attempts) {
          this.#o.logger.debug("registry request failed, retrying", {
            url,
            attempt,
            error: messageOf(err),
          });
          await sleep(BACKOFF_MS * 2 ** (attempt - 1), signal);
          continue;
        }
        throw timedOut
          ? deadlineExceeded(`registry ${ep.host} sent no response in ${HEADER_TIMEOUT_MS} ms`)
          : unavailable(`registry ${ep.host} is unreachable: ${messageOf(err)}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
      // A 401 from where the registry redirected us is that storage's refusal, not a
      // challenge of the registry's.
      if (res.status === 401 && !challenged && !crossOrigin) {
        challenged = true;
        await res.body?.cancel();
        await this.#auth.challenge(
          ep.host,
          registry,
          scope,
          res.headers.get("www-authenticate"),
          creds,
          signal,
        );
        attempt--; // the challenge round does not count as a failed attempt
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        this.#auth.forget(ep.host, scope, creds);
        throw permissionDenied(
          `registry ${ep.host} refused ${creds ? "the credentials" : "anonymous access"} ` +
            `for ${ref.path} (HTTP ${res.status})`,
        );
      }
      if (retryable(res.status) && attempt < attempts) {
        await res.body?.cancel();
        const after = Number(res.headers.get("retry-after"));
        const wait = Number.isFinite(after) && after > 0
          ? Math.min(after * 1000, 10_000)
          : BACKOFF_MS * 2 ** (attempt - 1);
        await sleep(wait, signal);
        continue;
      }
      return { res, abort };
    }
  }

  /**
   * Runs `fn` against each endpoint in turn until one succeeds. Not-found and
   * unavailability move on; the combined error keeps the most telling kind.
   */
  async #onEndpoints<T>(
    ref: Reference,
    eps: Endpoint[],
    what: string,
    fn: (ep: Endpoint, attempts: number) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const failures: Failure[] = [];
    for (const [i, ep] of eps.entries()) {
      try {
        // Only the last endpoint is worth retrying in place: before it, failing over to
        // the next one is the faster recovery (a dead mirror must not delay every pull).
        return await fn(ep, i === eps.length - 1 ? ATTEMPTS : 1);
      } catch (err) {
        if (signal.aborted) throw canceled(`${what} canceled`, { cause: err });
        const e = err instanceof SauropodError
          ? err
          : new SauropodError(kindOf(err), messageOf(err), { cause: err });
        // Content that fails verification is not the endpoint's problem to retry elsewhere
        // only when it is the last one; a mirror serving bad bytes falls back like any other.
        failures.push({ endpoint: ep, error: e });
        this.#o.logger.info("registry endpoint failed", {
          registry: ep.host,
          mirror: ep.mirror,
          what,
          error: e.message,
        });
      }
    }
    throw combine(ref, what, failures);
  }

  /** Resolves `ref` (tag or digest) to its manifest or index, verifying a pinned digest. */
  async resolve(
    ref: Reference,
    pull: PullCredentials | undefined,
    signal: AbortSignal,
  ): Promise<Resolved> {
    const eps = this.endpoints(ref.domain);
    const want = ref.digest ?? ref.tag!;
    return await this.#onEndpoints(
      ref,
      eps,
      `manifest ${want}`,
      (ep, attempts) => this.#manifestFrom(ep, ref, want, pull, signal, attempts),
      signal,
    );
  }

  /** Fetches a manifest by digest (after an index), trying `first` before the others. */
  async manifest(
    ref: Reference,
    digest: string,
    first: Endpoint,
    pull: PullCredentials | undefined,
    signal: AbortSignal,
  ): Promise<Resolved> {
    const eps = [first, ...this.endpoints(ref.domain).filter((e) => e.base !== first.base)];
    return await this.#onEndpoints(
      ref,
      eps,
      `manifest ${digest}`,
      (ep, attempts) => this.#manifestFrom(ep, ref, digest, pull, signal, attempts),
      signal,
    );
  }

  async #manifestFrom(
    ep: Endpoint,
    ref: Reference,
    tagOrDigest: string,
    pull: PullCredentials | undefined,
    signal: AbortSignal,
    attempts: number,
  ): Promise<Resolved> {
    const creds = this.#creds(ep.host, ref.domain, pull);
    const { res } = await this.#get(
      ep,
      ref,
      `manifests/${tagOrDigest}`,
      { accept: MANIFEST_ACCEPT },
      creds,
      signal,
      attempts,
    );
    if (res.status === 404) {
      await res.body?.cancel();
      throw notFound(`${ep.host} has no manifest ${tagOrDigest} for ${ref.path}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw unavailable(`registry ${ep.host} answered HTTP ${res.status} for manifest`);
    }
    const length = Number(res.headers.get("content-length") ?? "0");
    if (length > MAX_MANIFEST_BYTES) {
      await res.body?.cancel();
      throw invalidArgument(`manifest of ${length} bytes is larger than ${MAX_MANIFEST_BYTES}`);
    }
    const bytes = await readCapped(res, MAX_MANIFEST_BYTES, "manifest");
    const digest = sha256(bytes);
    if (tagOrDigest.startsWith("sha256:") && digest !== tagOrDigest) {
      throw invalidArgument(
        `manifest from ${ep.host} does not match digest ${tagOrDigest} (content is ${digest})`,
      );
    }
    const header = res.headers.get("docker-content-digest");
    if (header && header.startsWith("sha256:") && header !== digest) {
      this.#o.logger.warn("registry Docker-Content-Digest differs from the manifest's digest", {
        registry: ep.host,
        header,
        digest,
      });
    }
    return {
      endpoint: ep,
      digest,
      mediaType: res.headers.get("content-type") ?? "",
      bytes,
    };
  }

  /**
   * Opens a blob for streaming from byte `offset` (a `Range` request when > 0). Returns the
   * offset the body really starts at (0 when the server ignored the range) and the body,
   * which is cut off when it stalls for the progress timeout.
   */
  async openBlob(
    ref: Reference,
    digest: string,
    offset: number,
    eps: Endpoint[],
    pull: PullCredentials | undefined,
    signal: AbortSignal,
  ): Promise<{ offset: number; body: AsyncIterable<Uint8Array>; endpoint: Endpoint }> {
    return await this.#onEndpoints(ref, eps, `blob ${digest}`, async (ep, attempts) => {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const { res, abort } = await this.#get(
        ep,
        ref,
        `blobs/${digest}`,
        headers,
        this.#creds(ep.host, ref.domain, pull),
        signal,
        attempts,
      );
      if (res.status === 404) {
        await res.body?.cancel();
        throw notFound(`${ep.host} has no blob ${digest} for ${ref.path}`);
      }
      let start = 0;
      if (res.status === 206) {
        const m = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "");
        start = m ? Number(m[1]) : -1;
        if (start !== offset) {
          await res.body?.cancel();
          throw unavailable(`registry ${ep.host} sent an unexpected range for blob ${digest}`);
        }
      } else if (!res.ok || !res.body) {
        await res.body?.cancel();
        throw unavailable(`registry ${ep.host} answered HTTP ${res.status} for blob ${digest}`);
      }
      return {
        offset: start,
        body: stallGuard(res.body!, abort, this.#o.progressTimeoutMs, ep.host, signal),
        endpoint: ep,
      };
    }, signal);
  }
}

/** Reads a response body into memory, refusing more than `max` bytes. */
async function readCapped(res: Response, max: number, what: string): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.length;
    if (n > max) {
      await res.body.cancel().catch(() => {});
      throw invalidArgument(`${what} is larger than ${max} bytes`);
    }
    parts.push(chunk);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Yields the body's chunks; aborts the request when none arrives within `idleMs`. */
async function* stallGuard(
  body: ReadableStream<Uint8Array>,
  abort: AbortController,
  idleMs: number,
  host: string,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (idleMs <= 0) return;
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new DOMException("stalled", "TimeoutError")), idleMs);
  };
  try {
    arm();
    for await (const chunk of body) {
      arm();
      yield chunk;
    }
  } catch (err) {
    if (signal.aborted) throw canceled(`download from ${host} canceled`, { cause: err });
    if (abort.signal.aborted) {
      throw deadlineExceeded(`download from ${host} made no progress for ${idleMs / 1000} s`);
    }
    throw unavailable(`download from ${host} failed: ${messageOf(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    // Release the connection when the consumer stopped early (an error downstream).
    if (!abort.signal.aborted) abort.abort();
  }
}

/** One error for a request that failed on every endpoint. */
function combine(ref: Reference, what: string, failures: Failure[]): SauropodError {
  const repo = `${ref.domain}/${ref.path}`;
  const detail = failures.map((f) => `${f.endpoint.host}: ${f.error.message}`).join("; ");
  const last = failures.at(-1);
  const kinds = failures.map((f) => f.error.kind);
  let kind = last?.error.kind ?? "unavailable";
  if (kinds.includes("permission-denied")) kind = "permission-denied";
  else if (last?.error.kind === "not-found" || kinds.every((k) => k === "not-found")) {
    kind = "not-found";
  } else if (kinds.includes("invalid-argument")) kind = "invalid-argument";
  else if (kinds.every((k) => k === "unavailable" || k === "deadline-exceeded")) {
    kind = "unavailable";
  }
  const msg = kind === "not-found"
    ? `${what} of ${repo} not found (${detail})`
    : `cannot fetch ${what} of ${repo} from registry ${ref.domain} (${detail})`;
  return new SauropodError(kind, msg, { cause: last?.error });
}
