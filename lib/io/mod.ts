/**
 * Byte plumbing shared by the HTTP/1.1 front, SPDY and WebSocket: a transport interface
 * (a TCP connection, or a WebSocket carrying a tunnelled byte stream), a buffered reader
 * that hands leftover bytes from one protocol layer to the next, and an in-memory
 * transport pair for sandboxed tests.
 *
 * @module
 */

/** A full-duplex byte stream. */
export interface Transport {
  /** The next chunk from the peer, or `null` once the peer has finished sending. */
  read(): Promise<Uint8Array | null>;
  /** Writes every byte of `data`, in call order; rejects once the transport is broken. */
  write(data: Uint8Array): Promise<void>;
  /** Finishes our sending direction (TCP FIN) while still reading. */
  closeWrite(): Promise<void>;
  /** Closes both directions now; pending reads end. Idempotent. */
  close(): void;
}

/** Thrown by {@link BufferedReader.readExact} when the stream ends inside a unit. */
export class UnexpectedEof extends Error {
  /** Builds the error; `what` names the unit being read. */
  constructor(what: string) {
    super(`connection ended in the middle of ${what}`);
    this.name = "UnexpectedEof";
  }
}

/**
 * Reads exact-length units (frame headers, payloads) or delimited heads from a chunked
 * source, keeping whatever arrives beyond them for the next read.
 */
export class BufferedReader {
  readonly #source: () => Promise<Uint8Array | null>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #eof = false;

  /** Reads from `source`, which returns `null` at end of stream. */
  constructor(source: () => Promise<Uint8Array | null>) {
    this.#source = source;
  }

  /** Bytes already buffered. */
  get buffered(): number {
    return this.#buffered;
  }

  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#eof) return false;
      const chunk = await this.#source();
      if (chunk === null) {
        this.#eof = true;
        return false;
      }
      if (chunk.byteLength === 0) continue;
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    return true;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength === n) {
      this.#chunks.shift();
      this.#buffered -= n;
      return first;
    }
    if (first.byteLength > n) {
      this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const want = Math.min(c.byteLength, n - off);
      out.set(c.subarray(0, want), off);
      off += want;
      if (want === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(want);
    }
    this.#buffered -= n;
    return out;
  }

  /**
   * Exactly `n` bytes; `null` when the stream ends cleanly before the first of them;
   * {@link UnexpectedEof} (naming `what`) when it ends part-way.
   */
  async readExact(n: number, what = "a message"): Promise<Uint8Array | null> {
    if (n === 0) return new Uint8Array(0);
    if (!(await this.#fill(n))) {
      if (this.#buffered === 0) return null;
      throw new UnexpectedEof(what);
    }
    return this.#take(n);
  }

  /** Whatever is buffered, else the next chunk; `null` at end of stream. */
  async readChunk(): Promise<Uint8Array | null> {
    if (this.#buffered === 0 && !(await this.#fill(1))) return null;
    return this.#take(this.#buffered);
  }

  /**
   * Bytes up to and including the first `\r\n\r\n` (an HTTP head). `null` when the stream
   * ends before any byte; a {@link RangeError} when `max` bytes pass without the delimiter,
   * {@link UnexpectedEof} when the stream ends inside the head.
   */
  async readHead(max: number): Promise<Uint8Array | null> {
    let scanned = 0;
    for (;;) {
      const flat = this.#flatten();
      const end = indexOfCrlfCrlf(flat, Math.max(0, scanned - 3));
      if (end >= 0 && end + 4 <= max) return this.#take(end + 4);
      scanned = flat.byteLength;
      if (scanned >= max) throw new RangeError(`request head exceeds ${max} bytes`);
      if (!(await this.#fill(scanned + 1))) {
        if (scanned === 0) return null;
        throw new UnexpectedEof("the request head");
      }
    }
  }

  #flatten(): Uint8Array {
    if (this.#chunks.length <= 1) return this.#chunks[0] ?? new Uint8Array(0);
    const all = this.#take(this.#buffered);
    this.#chunks = [all];
    this.#buffered = all.byteLength;
    return all;
  }
}

function indexOfCrlfCrlf(b: Uint8Array, from: number): number {
  for (let i = from; i + 3 < b.byteLength; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** Wraps a Deno connection as a {@link Transport}. */
export function connTransport(conn: Deno.Conn): Transport {
  let closed = false;
  let tail: Promise<void> = Promise.resolve();
  const buf = new Uint8Array(64 * 1024);
  const writeAll = async (data: Uint8Array): Promise<void> => {
    let off = 0;
    while (off < data.byteLength) off += await conn.write(data.subarray(off));
  };
  return {
    async read() {
      if (closed) return null;
      try {
        const n = await conn.read(buf);
        if (n === null) return null;
        return buf.slice(0, n);
      } catch (err) {
        // A reset or a close from our side both mean: nothing more will arrive.
        if (closed || err instanceof Deno.errors.ConnectionReset) return null;
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          return null;
        }
        throw err;
      }
    },
    write(data) {
      // Writes are chained so that concurrent callers never interleave partial writes.
      const next = tail.then(() => {
        if (closed) throw new Deno.errors.BrokenPipe("connection closed");
        return writeAll(data);
      });
      tail = next.catch(() => {});
      return next;
    },
    async closeWrite() {
      await tail;
      if (closed) return;
      try {
        await conn.closeWrite();
      } catch {
        // Already shut down or reset: the peer learns the same thing either way.
      }
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
  };
}

/**
 * Two connected in-memory transports (what one writes, the other reads), for tests that
 * need no sockets.
 */
export function memoryTransportPair(): [Transport, Transport] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryEnd implements Transport {
  peer: MemoryEnd | undefined;
  #queue: (Uint8Array | null)[] = [];
  #waiter: ((c: Uint8Array | null) => void) | undefined;
  #writeClosed = false;
  #closed = false;

  deliver(chunk: Uint8Array | null): void {
    if (this.#closed) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(chunk);
    } else {
      this.#queue.push(chunk);
    }
  }

  read(): Promise<Uint8Array | null> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#writeClosed || this.#closed) {
      return Promise.reject(new Error("write on a closed memory transport"));
    }
    this.peer!.deliver(data.slice());
    return Promise.resolve();
  }

  closeWrite(): Promise<void> {
    if (!this.#writeClosed && !this.#closed) {
      this.#writeClosed = true;
      this.peer!.deliver(null);
    }
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    if (!this.#writeClosed) this.peer!.deliver(null);
    this.#writeClosed = true;
    this.#closed = true;
    this.#queue = [];
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(null);
  }
}
