/**
 * The idle timeout of a long-lived connection (SPDY sessions, WebSocket connections): once
 * nothing has been sent or received for the timeout, the connection is closed. Activity only
 * records the time; one timer, re-armed when it fires early, checks it — so a busy
 * connection costs no timer churn per frame.
 *
 * @module
 */

/** Calls `onIdle` once nothing was {@link IdleTimer.touch}ed for `ms` (0: never). */
export class IdleTimer {
  readonly #ms: number;
  readonly #onIdle: () => void;
  #last = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** A timer of `ms` (≤ 0: disabled) that calls `onIdle` at most once. */
  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
  }

  /** The timeout, in milliseconds (for logs). */
  get ms(): number {
    return this.#ms;
  }

  /** Records activity now. */
  touch(): void {
    this.#last = performance.now();
  }

  /** Starts watching (again a no-op while it watches, or once stopped). */
  start(): void {
    if (this.#ms <= 0 || this.#stopped || this.#timer !== undefined) return;
    const due = this.#last + this.#ms - performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      if (performance.now() - this.#last >= this.#ms) {
        this.#stopped = true;
        this.#onIdle();
      } else {
        this.start();
      }
    }, Math.max(0, due));
  }

  /** Stops for good (the connection is gone). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
