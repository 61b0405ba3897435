/**
 * A process's stdio inside the shim: output pumped from pipes or a pty to the CRI log and
 * to any number of subscribers (attach sessions, an exec's client), and a stdin target fed
 * by them.
 *
 * The container's output never waits for an attacher: the log is written synchronously and
 * a subscriber that falls behind is dropped by its session. An exec'd process's output
 * instead waits for its one client (`backpressure`), so `kubectl exec … cat big` is not
 * truncated by a slow link.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type { FdStream } from "../../ffi/fd.ts";
import type { CriLogWriter, StreamName } from "./_cri_log.ts";

/** Receives a process's output. */
export interface OutputSubscriber {
  /** A chunk of `stream`. */
  data(stream: StreamName, chunk: Uint8Array): void;
  /** `stream` ended. */
  end(stream: StreamName): void;
  /** With backpressure: resolves when the subscriber can take more. */
  room?(): Promise<void>;
}

/** Where stdin bytes go: a pipe's writable end or a pty master. */
export interface StdinTarget {
  /** Writes bytes (in order). */
  write(data: Uint8Array): Promise<void>;
  /** Ends stdin: closes the pipe; on a pty sends the EOF character (^D). */
  close(): Promise<void>;
  /** True once closed. */
  readonly closed: boolean;
}

/** stdin through a pipe (the `Deno.Command` child's stdin). */
export function pipeStdin(writable: WritableStream<Uint8Array>): StdinTarget {
  const writer = writable.getWriter();
  let closed = false;
  let tail: Promise<void> = Promise.resolve();
  return {
    get closed() {
      return closed;
    },
    write(data) {
      if (closed) return Promise.resolve();
      const p = tail.then(() => writer.write(data));
      tail = p.catch(() => {});
      return p;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      tail = tail.then(() => writer.close()).catch(() => {});
      return tail;
    },
  };
}

/** stdin through a pty master: closing it types ^D (the terminal stays, as for a user). */
export function ptyStdin(pty: FdStream): StdinTarget {
  let closed = false;
  let tail: Promise<void> = Promise.resolve();
  return {
    get closed() {
      return closed;
    },
    write(data) {
      if (closed) return Promise.resolve();
      const p = tail.then(() => pty.write(data));
      tail = p.catch(() => {});
      return p;
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      tail = tail.then(() => pty.write(new Uint8Array([4]))).catch(() => {});
      return tail;
    },
  };
}

/** Fans a process's output out to its log and subscribers. */
export class OutputHub {
  readonly #log: CriLogWriter | undefined;
  readonly #subs = new Set<OutputSubscriber>();
  readonly #backpressure: boolean;
  readonly #logger: Logger;
  readonly #readers = new Set<ReadableStreamDefaultReader<Uint8Array>>();
  readonly #ended = new Set<StreamName>();
  readonly #pumps: Promise<void>[] = [];

  /** Output goes to `log` (if any) and to subscribers. */
  constructor(opts: { log?: CriLogWriter; backpressure?: boolean; logger: Logger }) {
    this.#log = opts.log;
    this.#backpressure = opts.backpressure ?? false;
    this.#logger = opts.logger;
  }

  /** The CRI log, if the process has one. */
  get log(): CriLogWriter | undefined {
    return this.#log;
  }

  /** Adds a subscriber; returns its removal. Streams that already ended are ended at once. */
  subscribe(sub: OutputSubscriber): () => void {
    this.#subs.add(sub);
    for (const s of this.#ended) sub.end(s);
    return () => this.#subs.delete(sub);
  }

  /** Number of subscribers. */
  get subscribers(): number {
    return this.#subs.size;
  }

  /** Reads `readable` to its end into `stream`. */
  pump(stream: StreamName, readable: ReadableStream<Uint8Array>): Promise<void> {
    const p = this.#run(stream, readable);
    this.#pumps.push(p);
    return p;
  }

  /** Resolves when every pump so far has reached its end (or was cancelled). */
  drained(): Promise<void> {
    return Promise.all(this.#pumps).then(() => {});
  }

  /**
   * Waits for the output to end, at most `ms`; then stops reading (a process that left a
   * background child holding the pipe must not keep an exec or an exit pending forever).
   * Resolves true when everything was read.
   */
  async drain(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
    const done = await Promise.race([this.drained().then(() => true), timedOut]);
    clearTimeout(timer);
    if (!done) this.cancel();
    await this.drained();
    return done;
  }

  /** Stops every pump now; their streams count as ended. */
  cancel(): void {
    for (const r of this.#readers) r.cancel().catch(() => {});
  }

  async #run(stream: StreamName, readable: ReadableStream<Uint8Array>): Promise<void> {
    const reader = readable.getReader();
    this.#readers.add(reader);
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        this.#log?.write(stream, r.value);
        for (const s of this.#subs) s.data(stream, r.value);
        if (this.#backpressure) {
          await Promise.all([...this.#subs].map((s) => s.room?.()));
        }
      }
    } catch (err) {
      this.#logger.warn("reading process output failed", { stream, err });
    } finally {
      this.#readers.delete(reader);
      this.#ended.add(stream);
      this.#log?.end(stream);
      for (const s of this.#subs) s.end(stream);
    }
  }
}
