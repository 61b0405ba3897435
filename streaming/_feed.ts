/**
 * A readable stream fed by a producer loop that waits while the consumer is behind, so
 * one slow channel throttles the connection (TCP backpressure) instead of growing memory.
 *
 * @module
 */

/** Bytes buffered before {@link Feed.push} waits. */
const FEED_BUFFER = 256 * 1024;

/** A pushable byte stream. */
export class Feed {
  /** What the consumer reads. */
  readonly readable: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #space: (() => void) | undefined;
  #closed = false;
  #canceled = false;

  /** An empty feed. */
  constructor() {
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => this.#wake(),
      cancel: () => {
        this.#canceled = true;
        this.#wake();
      },
    }, { highWaterMark: FEED_BUFFER, size: (c) => c.byteLength });
  }

  /** True once closed or canceled: pushes are dropped. */
  get ended(): boolean {
    return this.#closed || this.#canceled;
  }

  /** Queues `chunk`; resolves when the consumer has room for more. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.ended || chunk.byteLength === 0) return;
    this.#controller.enqueue(chunk);
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.ended) {
      await new Promise<void>((resolve) => (this.#space = resolve));
    }
  }

  /** Ends the stream after what is queued. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#controller.close();
    } catch {
      // Canceled by the consumer.
    }
    this.#wake();
  }

  #wake(): void {
    const s = this.#space;
    this.#space = undefined;
    s?.();
  }
}
