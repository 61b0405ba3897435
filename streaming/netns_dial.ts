/**
 * Dialling `127.0.0.1:port` inside a pod's network namespace, for port forwarding.
 *
 * A socket belongs to the network namespace of the thread that created it, and that is a
 * per-thread attribute. So each namespace gets a Worker that joins it with `setns(2)` (its
 * JS and its socket I/O run on its own OS thread) and opens the pod's sockets there; the
 * bytes cross to the main thread by `postMessage` with transferred buffers. One worker
 * serves every connection into its namespace and lingers a while after the last one
 * closes, so a burst of short connections (a browser's) pays the start-up once.
 *
 * Chosen over `nsenter --net=<file>` plus a relay process per connection after measuring
 * both here (`streaming/streaming_bench.ts`): the worker starts once per namespace
 * (≈ 36 ms), then a dial plus a one-byte round trip costs ≈ 1.3 ms, against ≈ 4.9 ms and
 * one process for every connection with `nsenter` + `busybox nc`.
 *
 * @module
 */
import { failedPrecondition, internal, notFound, unavailable } from "../errors/mod.ts";
import { Errno } from "../ffi/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import type { FromWorker, ToWorker } from "./_netns_protocol.ts";
import type { PortForwardConnection } from "./_types.ts";

/** Options of a {@link NetnsDialer}. */
export interface NetnsDialerOptions {
  /** How long an idle namespace worker is kept for the next connection (default 30 s). */
  readonly lingerMs?: number;
  /** How long a dial may take, worker start-up included (default 10 s). */
  readonly dialTimeoutMs?: number;
  readonly logger?: Logger;
}

interface Pending {
  resolve: (c: NetnsConnection) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One namespace's worker. */
class NamespaceWorker {
  readonly path: string;
  readonly ready: Promise<void>;
  readonly #worker: Worker;
  readonly #dialer: NetnsDialer;
  readonly #pending = new Map<number, Pending>();
  readonly #conns = new Map<number, NetnsConnection>();
  #nextId = 1;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #dead: Error | undefined;
  #readyResolvers = Promise.withResolvers<void>();

  constructor(path: string, dialer: NetnsDialer) {
    this.path = path;
    this.#dialer = dialer;
    this.ready = this.#readyResolvers.promise;
    this.ready.catch(() => {});
    this.#worker = new Worker(new URL("./_netns_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(internal(`network namespace worker for "${path}" failed: ${e.message}`));
    };
    this.post({ t: "init", path });
  }

  get idle(): boolean {
    return this.#conns.size === 0 && this.#pending.size === 0;
  }

  post(m: ToWorker, transfer: Transferable[] = []): void {
    if (this.#dead) return;
    this.#worker.postMessage(m, transfer);
  }

  dial(port: number, timeoutMs: number): Promise<NetnsConnection> {
    if (this.#dead) return Promise.reject(this.#dead);
    this.#cancelLinger();
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<NetnsConnection>();
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      this.post({ t: "close", id });
      reject(unavailable(`dial 127.0.0.1:${port} in network namespace "${this.path}" timed out`));
      this.#maybeLinger();
    }, timeoutMs);
    this.#pending.set(id, { resolve, reject, timer });
    this.ready.then(() => this.post({ t: "dial", id, port }), () => {});
    return promise;
  }

  forget(id: number): void {
    this.#conns.delete(id);
    this.#maybeLinger();
  }

  /** Fails everything in flight and stops the worker. */
  fail(err: Error): void {
    if (this.#dead) return;
    this.#dead = err;
    this.#readyResolvers.reject(err);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
    for (const c of this.#conns.values()) c.onFailure(err.message);
    this.#conns.clear();
    this.#cancelLinger();
    this.#worker.terminate();
    this.#dialer.drop(this);
  }

  #cancelLinger(): void {
    if (this.#linger !== undefined) clearTimeout(this.#linger);
    this.#linger = undefined;
  }

  #maybeLinger(): void {
    if (!this.idle || this.#dead) return;
    this.#cancelLinger();
    this.#linger = setTimeout(() => {
      if (this.idle) this.fail(unavailable(`network namespace worker for "${this.path}" retired`));
    }, this.#dialer.lingerMs);
  }

  #onMessage(m: FromWorker): void {
    switch (m.t) {
      case "ready":
        this.#readyResolvers.resolve();
        return;
      case "init-error": {
        const msg = `cannot enter network namespace "${this.path}": ${m.message}`;
        this.fail(
          m.errno === Errno.ENOENT
            ? notFound(msg)
            : m.errno === Errno.EINVAL
            ? failedPrecondition(msg)
            : internal(msg),
        );
        return;
      }
      case "dialed": {
        const p = this.#pending.get(m.id);
        if (!p) {
          // The dial timed out meanwhile.
          this.post({ t: "close", id: m.id });
          return;
        }
        this.#pending.delete(m.id);
        clearTimeout(p.timer);
        const conn = new NetnsConnection(this, m.id);
        this.#conns.set(m.id, conn);
        p.resolve(conn);
        return;
      }
      case "dial-error": {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (p) {
          clearTimeout(p.timer);
          p.reject(unavailable(m.message));
        }
        this.#maybeLinger();
        return;
      }
      case "data":
        this.#conns.get(m.id)?.onData(m.chunk);
        return;
      case "eof":
        this.#conns.get(m.id)?.onEof();
        return;
      case "written":
        this.#conns.get(m.id)?.onWritten(m.error);
        return;
      case "error":
        this.#conns.get(m.id)?.onFailure(m.message);
        return;
      case "closed":
        this.forget(m.id);
        return;
    }
  }

  terminate(): void {
    this.fail(unavailable(`network namespace dialer closed`));
  }
}

/** A connection into a pod made by a namespace worker. */
class NetnsConnection implements PortForwardConnection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly #ns: NamespaceWorker;
  readonly #id: number;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #owedAck = false;
  #written: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #closed = false;
  #readDone = false;

  constructor(ns: NamespaceWorker, id: number) {
    this.#ns = ns;
    this.#id = id;
    this.readable = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        if (this.#owedAck) {
          this.#owedAck = false;
          this.#ns.post({ t: "ack", id: this.#id });
        }
      },
      cancel: () => this.close(),
    }, { highWaterMark: 256 * 1024, size: (c) => c.byteLength });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        if (this.#closed) throw unavailable("connection closed");
        const { promise, resolve, reject } = Promise.withResolvers<void>();
        this.#written = { resolve, reject };
        const copy = chunk.slice();
        this.#ns.post({ t: "data", id: this.#id, chunk: copy }, [copy.buffer]);
        return promise;
      },
      close: () => {
        if (!this.#closed) this.#ns.post({ t: "end", id: this.#id });
      },
      abort: () => this.close(),
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ns.post({ t: "close", id: this.#id });
    this.#endRead();
    this.#written?.reject(unavailable("connection closed"));
    this.#written = undefined;
  }

  #endRead(err?: Error): void {
    if (this.#readDone) return;
    this.#readDone = true;
    try {
      if (err) this.#controller.error(err);
      else this.#controller.close();
    } catch {
      // Canceled by the reader.
    }
  }

  onData(chunk: Uint8Array): void {
    if (this.#readDone) return;
    this.#controller.enqueue(chunk);
    if ((this.#controller.desiredSize ?? 1) > 0) this.#ns.post({ t: "ack", id: this.#id });
    else this.#owedAck = true;
  }

  onEof(): void {
    this.#endRead();
  }

  onWritten(error?: string): void {
    const w = this.#written;
    this.#written = undefined;
    if (error) w?.reject(unavailable(error));
    else w?.resolve();
  }

  onFailure(message: string): void {
    this.#endRead(unavailable(message));
    this.#written?.reject(unavailable(message));
    this.#written = undefined;
    if (!this.#closed) {
      this.#closed = true;
      this.#ns.post({ t: "close", id: this.#id });
    }
  }
}

/** Dials TCP ports inside network namespaces. One per agent; {@link close} it on shutdown. */
export class NetnsDialer {
  readonly #workers = new Map<string, NamespaceWorker>();
  readonly #dialTimeoutMs: number;
  readonly #log: Logger;
  /** @internal */
  readonly lingerMs: number;
  #closed = false;

  /** A dialer with no workers yet. */
  constructor(opts: NetnsDialerOptions = {}) {
    this.lingerMs = opts.lingerMs ?? 30_000;
    this.#dialTimeoutMs = opts.dialTimeoutMs ?? 10_000;
    this.#log = opts.logger ?? nullLogger;
  }

  /**
   * Connects to `127.0.0.1:port` in the network namespace pinned at `netnsPath`.
   * not-found when the namespace file does not exist; unavailable when nothing listens.
   */
  async dial(netnsPath: string, port: number): Promise<PortForwardConnection> {
    if (this.#closed) throw unavailable("network namespace dialer is closed");
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw unavailable(`port ${port} is not a TCP port`);
    }
    let w = this.#workers.get(netnsPath);
    if (!w) {
      this.#log.debug("starting a network namespace worker", { netns: netnsPath });
      w = new NamespaceWorker(netnsPath, this);
      this.#workers.set(netnsPath, w);
    }
    return await w.dial(port, this.#dialTimeoutMs);
  }

  /** Namespaces with a live worker (for tests and metrics). */
  get workerCount(): number {
    return this.#workers.size;
  }

  /** @internal */
  drop(w: NamespaceWorker): void {
    if (this.#workers.get(w.path) === w) this.#workers.delete(w.path);
  }

  /** Closes every connection and stops every worker. */
  close(): void {
    this.#closed = true;
    for (const w of [...this.#workers.values()]) w.terminate();
    this.#workers.clear();
  }
}
