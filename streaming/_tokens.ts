/**
 * Single-use, expiring tokens that stand for a validated Exec, Attach or PortForward
 * request until its client connects (the kubelet streaming library's request cache).
 *
 * A token is 32 random bytes from the system CSPRNG, base64url-encoded: it is the only
 * credential of a streaming URL, so it must not be guessable. (The kubelet library uses 6
 * bytes; tokens are free, so we do not.)
 *
 * @module
 */
import { resourceExhausted } from "../errors/mod.ts";

/** What a token stands for. */
export type StreamRequest =
  | {
    readonly kind: "exec";
    readonly containerId: string;
    readonly cmd: readonly string[];
    readonly tty: boolean;
    readonly stdin: boolean;
    readonly stdout: boolean;
    readonly stderr: boolean;
  }
  | {
    readonly kind: "attach";
    readonly containerId: string;
    readonly tty: boolean;
    readonly stdin: boolean;
    readonly stdout: boolean;
    readonly stderr: boolean;
  }
  | {
    readonly kind: "portforward";
    readonly podSandboxId: string;
    readonly ports: readonly number[];
  };

/** Options of a {@link TokenCache}. */
export interface TokenCacheOptions {
  /** How long a token stays valid. */
  readonly ttlMs: number;
  /** Tokens outstanding at once; more are refused (the kubelet library allows 1000). */
  readonly maxInFlight?: number;
  /** The clock, in milliseconds (tests pass a fake one). */
  readonly now?: () => number;
}

/** The outstanding tokens. */
export class TokenCache {
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  // Insertion order is expiry order (one TTL for all), so expired entries sit at the front.
  readonly #entries = new Map<string, { req: StreamRequest; expires: number }>();

  /** An empty cache. */
  constructor(opts: TokenCacheOptions) {
    if (!(opts.ttlMs > 0)) throw new RangeError(`token TTL must be positive, got ${opts.ttlMs}`);
    this.#ttl = opts.ttlMs;
    this.#max = opts.maxInFlight ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** Tokens outstanding (expired ones included until swept). */
  get size(): number {
    return this.#entries.size;
  }

  /** Stores `req` under a fresh token; resource-exhausted when too many are outstanding. */
  insert(req: StreamRequest): string {
    this.#sweep();
    if (this.#entries.size >= this.#max) {
      throw resourceExhausted(
        `too many streaming requests in flight (${this.#max}); retry in ${
          Math.ceil(this.#ttl / 1000)
        } s`,
      );
    }
    let token = newToken();
    while (this.#entries.has(token)) token = newToken();
    this.#entries.set(token, { req, expires: this.#now() + this.#ttl });
    return token;
  }

  /** The request behind `token`, removing it: a token works once. Expired: undefined. */
  consume(token: string): StreamRequest | undefined {
    const e = this.#entries.get(token);
    if (!e) return undefined;
    this.#entries.delete(token);
    return this.#now() < e.expires ? e.req : undefined;
  }

  /** Forgets every token. */
  clear(): void {
    this.#entries.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [token, e] of this.#entries) {
      if (e.expires > now) break;
      this.#entries.delete(token);
    }
  }
}

/** 256 random bits, base64url without padding (43 characters). */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** True when `s` has the shape of a token (so a path segment can be rejected early). */
export function isTokenShaped(s: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(s);
}
