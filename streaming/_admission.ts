/**
 * Who may hold a connection to the streaming server: caps on connections in total, per
 * source address, and not yet authenticated (no valid token presented), so that neither a
 * flood nor a slow trickle from any local process or hostNetwork pod can exhaust the
 * agent's file descriptors. And the log of refusals, said once per reason and interval
 * rather than once per connection of a flood.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** The caps. */
export interface ConnectionLimits {
  /** Connections open at once. */
  readonly total: number;
  /** Connections open at once from one source address. */
  readonly perSource: number;
  /** Connections that have not yet presented a valid token. */
  readonly unauthenticated: number;
}

/** Why a connection is refused, and the HTTP status it gets. */
export interface Refusal {
  readonly reason: "total" | "per-source" | "unauthenticated";
  /** 503 when the server is full, 429 when this source is. */
  readonly status: 503 | 429;
  readonly message: string;
}

/** An admitted connection's hold on the counts; both methods may be called more than once. */
export interface Ticket {
  /** The connection presented a valid token: it no longer counts as unauthenticated. */
  authenticated(): void;
  /** The connection is closed. */
  release(): void;
}

/** Counts open connections against {@link ConnectionLimits}. */
export class Admission {
  readonly #limits: ConnectionLimits;
  readonly #bySource = new Map<string, number>();
  #total = 0;
  #unauthenticated = 0;

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
  }

  /** Open connections: in total, and not yet authenticated. */
  get counts(): { total: number; unauthenticated: number } {
    return { total: this.#total, unauthenticated: this.#unauthenticated };
  }

  /** Admits a new connection from `source` (an address), or says why not. */
  admit(source: string): Ticket | Refusal {
    const l = this.#limits;
    if (this.#total >= l.total) {
      return {
        reason: "total",
        status: 503,
        message: `too many streaming connections (limit ${l.total})`,
      };
    }
    const fromSource = this.#bySource.get(source) ?? 0;
    if (fromSource >= l.perSource) {
      return {
        reason: "per-source",
        status: 429,
        message: `too many streaming connections from ${source} (limit ${l.perSource})`,
      };
    }
    if (this.#unauthenticated >= l.unauthenticated) {
      return {
        reason: "unauthenticated",
        status: 503,
        message:
          `too many streaming connections waiting to present a token (limit ${l.unauthenticated})`,
      };
    }
    this.#total++;
    this.#unauthenticated++;
    this.#bySource.set(source, fromSource + 1);
    let authenticated = false;
    let released = false;
    return {
      authenticated: () => {
        if (authenticated || released) return;
        authenticated = true;
        this.#unauthenticated--;
      },
      release: () => {
        if (released) return;
        released = true;
        if (!authenticated) this.#unauthenticated--;
        this.#total--;
        const n = (this.#bySource.get(source) ?? 1) - 1;
        if (n === 0) this.#bySource.delete(source);
        else this.#bySource.set(source, n);
      },
    };
  }
}

/** True for a {@link Refusal} rather than a {@link Ticket}. */
export function isRefusal(r: Ticket | Refusal): r is Refusal {
  return "status" in r;
}

/**
 * Logs refusals once per reason per interval: the first at once, later ones as a count
 * when the next refusal after the interval comes (or at {@link flush}).
 */
export class RefusalLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #state = new Map<Refusal["reason"], { since: number; suppressed: number }>();

  constructor(log: Logger, intervalMs = 60_000, now: () => number = Date.now) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Records one refusal. */
  note(r: Refusal, source: string): void {
    const t = this.#now();
    const s = this.#state.get(r.reason);
    if (s !== undefined && t - s.since < this.#intervalMs) {
      s.suppressed++;
      return;
    }
    if (s !== undefined && s.suppressed > 0) this.#summary(r.reason, s);
    this.#state.set(r.reason, { since: t, suppressed: 0 });
    this.#log.warn("refusing streaming connections", {
      reason: r.message,
      status: r.status,
      source,
      note: `further refusals for this reason are counted, not logged, for ${
        Math.round(this.#intervalMs / 1000)
      } s`,
    });
  }

  /** Logs the counts still pending (at shutdown). */
  flush(): void {
    for (const [reason, s] of this.#state) {
      if (s.suppressed > 0) this.#summary(reason, s);
    }
    this.#state.clear();
  }

  #summary(reason: Refusal["reason"], s: { since: number; suppressed: number }): void {
    this.#log.warn("refused more streaming connections", {
      reason,
      count: s.suppressed,
      seconds: Math.round((this.#now() - s.since) / 1000),
    });
  }
}
