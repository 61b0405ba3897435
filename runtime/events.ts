/**
 * Lifecycle events for GetContainerEvents: a fan-out bus with a bounded queue per
 * subscriber. A subscriber that falls behind loses the oldest events (counted, as
 * containerd's `container_events_dropped`) rather than growing the agent's memory.
 *
 * @module
 */

/** A subscription: iterate it; `close()` (or breaking the loop) unsubscribes. */
export interface Subscription<T> extends AsyncIterable<T> {
  close(): void;
  /** Events dropped because this subscriber was too slow. */
  readonly dropped: number;
}

/** A broadcast bus of `T`. */
export class EventBus<T> {
  readonly #subs = new Set<Sub<T>>();
  readonly #capacity: number;
  #dropped = 0;

  /** `capacity` is the queue bound per subscriber. */
  constructor(capacity = 1024) {
    this.#capacity = capacity;
  }

  /** Sends `event` to every subscriber. Never blocks. */
  publish(event: T): void {
    for (const s of this.#subs) s.push(event);
  }

  /** A new subscription; `signal` closes it. */
  subscribe(signal?: AbortSignal): Subscription<T> {
    const sub = new Sub<T>(
      this.#capacity,
      () => this.#subs.delete(sub),
      () => this.#dropped++,
    );
    this.#subs.add(sub);
    signal?.addEventListener("abort", () => sub.close(), { once: true });
    if (signal?.aborted) sub.close();
    return sub;
  }

  /** Events dropped across all subscribers since start (the agent's metrics). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Number of live subscriptions. */
  get subscribers(): number {
    return this.#subs.size;
  }
}

class Sub<T> implements Subscription<T> {
  readonly #queue: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #closed = false;
  dropped = 0;

  constructor(
    readonly capacity: number,
    readonly onClose: () => void,
    readonly onDrop: () => void,
  ) {}

  push(e: T): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w({ value: e, done: false });
      return;
    }
    if (this.#queue.length >= this.capacity) {
      this.#queue.shift();
      this.dropped++;
      this.onDrop();
    }
    this.#queue.push(e);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => {
        const e = this.#queue.shift();
        if (e !== undefined) return Promise.resolve({ value: e, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => (this.#waiter = r));
      },
      return: (): Promise<IteratorResult<T>> => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
