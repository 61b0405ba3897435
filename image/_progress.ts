/**
 * Pull progress for operators: one info line when a layer starts and when it finishes,
 * and, while anything is downloading, a periodic line with bytes done per layer — so a
 * slow or stuck pull shows up in the agent's log (a CRI progress API does not exist).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** How often a running pull reports its bytes. */
export const REPORT_INTERVAL_MS = 10_000;

interface LayerState {
  digest: string;
  size: number;
  done: number;
  startedAt: number;
}

function mb(n: number): string {
  return (n / (1 << 20)).toFixed(1);
}

/** Tracks the layers of one pull and logs them. */
export class PullProgress {
  readonly #log: Logger;
  readonly #active = new Map<string, LayerState>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #bytes = 0;

  /** Reports through `log` (already carrying the image reference). */
  constructor(log: Logger, intervalMs = REPORT_INTERVAL_MS) {
    this.#log = log;
    this.#timer = setInterval(() => this.#report(), intervalMs);
  }

  /** Bytes downloaded by this pull so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A layer download begins. */
  start(digest: string, size: number): void {
    this.#active.set(digest, { digest, size, done: 0, startedAt: performance.now() });
    this.#log.info("pulling layer", { layer: digest, sizeMB: mb(size) });
  }

  /** Bytes of `digest` written so far. */
  update(digest: string, done: number): void {
    const l = this.#active.get(digest);
    if (!l) return;
    this.#bytes += Math.max(0, done - l.done);
    l.done = done;
  }

  /** A layer download finished (or was found in the store). */
  finish(digest: string, outcome: "fetched" | "present"): void {
    const l = this.#active.get(digest);
    this.#active.delete(digest);
    if (!l) return;
    const secs = (performance.now() - l.startedAt) / 1000;
    if (outcome === "present") {
      this.#log.info("layer already present", { layer: digest });
      return;
    }
    this.#log.info("pulled layer", {
      layer: digest,
      sizeMB: mb(l.size),
      seconds: secs.toFixed(2),
      mbPerSecond: secs > 0 ? mb(l.size / secs) : undefined,
    });
  }

  /** A layer download failed; forget it. */
  fail(digest: string): void {
    this.#active.delete(digest);
  }

  #report(): void {
    if (this.#active.size === 0) return;
    const layers = [...this.#active.values()].map((l) =>
      `${l.digest.slice(7, 19)} ${mb(l.done)}/${mb(l.size)} MB`
    );
    this.#log.info("pull in progress", { downloadedMB: mb(this.#bytes), layers });
  }

  /** Stops the periodic report. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
