/**
 * The server end of a WebSocket connection (RFC 6455) after the opening handshake:
 * messages in, messages out, ping/pong, and the closing handshake.
 *
 * @module
 */
import { type Logger, nullLogger } from "../../log/mod.ts";
import { type BufferedReader, type Transport, UnexpectedEof } from "../io/mod.ts";
import { IdleTimer } from "../io/idle.ts";
import { CloseCode, encodeWsFrame, Opcode, readWsFrame, WsProtocolError } from "./_frames.ts";

/** One message from the peer. */
export interface WsMessage {
  /** Binary (opcode 2) or text (opcode 1). */
  readonly binary: boolean;
  /** The payload; for text, its UTF-8 bytes (already validated). */
  readonly data: Uint8Array;
}

/** Options of a {@link WebSocketConnection}. */
export interface WsConnectionOptions {
  /** Largest message accepted (reassembled across fragments). */
  readonly maxMessage?: number;
  /** Close when no frame has moved either way for this long. 0: never. */
  readonly idleTimeoutMs?: number;
  /** How long {@link WebSocketConnection.close} waits for the peer's close frame. */
  readonly closeGraceMs?: number;
  /** Where protocol trouble is reported. */
  readonly logger?: Logger;
}

/** Messages buffered before the read loop waits for the consumer. */
const MESSAGE_BUFFER = 256 * 1024;

/** A server-side WebSocket. Call {@link start} to begin reading. */
export class WebSocketConnection {
  /** Messages from the peer; ends when the connection closes. */
  readonly messages: ReadableStream<WsMessage>;
  readonly #reader: BufferedReader;
  readonly #transport: Transport;
  readonly #maxMessage: number;
  readonly #idle: IdleTimer;
  readonly #graceMs: number;
  readonly #log: Logger;
  readonly #done = Promise.withResolvers<void>();
  #controller!: ReadableStreamDefaultController<WsMessage>;
  #space: (() => void) | undefined;
  #canceled = false;
  #sentClose = false;
  #closed = false;
  #peerCloseCode: number | undefined;
  #closeReason = "connection closed";

  /** Wraps an upgraded connection; `reader` may already hold bytes past the handshake. */
  constructor(reader: BufferedReader, transport: Transport, opts: WsConnectionOptions = {}) {
    this.#reader = reader;
    this.#transport = transport;
    this.#maxMessage = opts.maxMessage ?? 16 * 1024 * 1024;
    this.#idle = new IdleTimer(opts.idleTimeoutMs ?? 0, () => {
      this.#log.info("closing idle WebSocket connection", { idleTimeoutMs: this.#idle.ms });
      this.#teardown("idle timeout");
    });
    this.#graceMs = opts.closeGraceMs ?? 5_000;
    this.#log = opts.logger ?? nullLogger;
    this.messages = new ReadableStream<WsMessage>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => this.#wake(),
      cancel: () => {
        this.#canceled = true;
        this.#wake();
      },
    }, { highWaterMark: MESSAGE_BUFFER, size: (m) => m.data.byteLength + 1 });
  }

  /** Resolves when the connection is gone. */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The close code the peer sent, if it sent one. */
  get peerCloseCode(): number | undefined {
    return this.#peerCloseCode;
  }

  /** Why the connection ended (for logs). */
  get closeReason(): string {
    return this.#closeReason;
  }

  /** Starts the read loop. */
  start(): void {
    this.#idle.start();
    this.#readLoop();
  }

  /** Sends one message. Rejects once the connection is closing or gone. */
  send(data: Uint8Array, binary = true): Promise<void> {
    if (this.#sentClose || this.#closed) {
      return Promise.reject(new Error("WebSocket is closing"));
    }
    return this.#write(encodeWsFrame(binary ? Opcode.Binary : Opcode.Text, data));
  }

  /**
   * Starts the closing handshake with `code` and waits (up to the grace period) for the
   * peer's close frame or the end of the connection, then closes the transport.
   */
  async close(code: number = CloseCode.Normal, reason = ""): Promise<void> {
    if (this.#closed) return;
    if (!this.#sentClose) {
      this.#sentClose = true;
      await this.#write(encodeWsFrame(Opcode.Close, closePayload(code, reason))).catch(() => {});
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#graceMs)));
    await Promise.race([this.done, grace]);
    clearTimeout(timer);
    this.#teardown("closed locally");
  }

  /** Drops the connection without a closing handshake. */
  abort(reason = "aborted"): void {
    this.#teardown(reason);
  }

  #write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("WebSocket closed"));
    this.#idle.touch();
    return this.#transport.write(bytes).catch((err) => {
      this.#teardown("write failed");
      throw err;
    });
  }

  #wake(): void {
    const s = this.#space;
    this.#space = undefined;
    s?.();
  }

  async #readLoop(): Promise<void> {
    let reason = "connection closed by peer";
    let fragments: Uint8Array[] = [];
    let fragmentOpcode = -1;
    let fragmentSize = 0;
    const utf8 = new TextDecoder("utf-8", { fatal: true });
    try {
      for (;;) {
        const f = await readWsFrame(this.#reader, this.#maxMessage);
        if (f === null) break;
        this.#idle.touch();
        if (!f.masked) throw new WsProtocolError("client frame is not masked");
        if (f.opcode === Opcode.Ping) {
          if (!this.#sentClose) {
            this.#write(encodeWsFrame(Opcode.Pong, f.payload)).catch(() => {});
          }
          continue;
        }
        if (f.opcode === Opcode.Pong) continue;
        if (f.opcode === Opcode.Close) {
          this.#peerCloseCode = f.payload.byteLength >= 2
            ? (f.payload[0]! << 8 | f.payload[1]!)
            : 1005;
          reason = `peer closed (${this.#peerCloseCode})`;
          if (!this.#sentClose) {
            this.#sentClose = true;
            const echo = this.#peerCloseCode === 1005
              ? new Uint8Array(0)
              : f.payload.subarray(0, 2);
            await this.#write(encodeWsFrame(Opcode.Close, echo)).catch(() => {});
          }
          break;
        }
        if (f.opcode === Opcode.Continuation) {
          if (fragmentOpcode < 0) throw new WsProtocolError("continuation without a message");
        } else if (f.opcode === Opcode.Text || f.opcode === Opcode.Binary) {
          if (fragmentOpcode >= 0) throw new WsProtocolError("new message inside a fragmented one");
          fragmentOpcode = f.opcode;
        } else {
          throw new WsProtocolError(`unknown opcode ${f.opcode}`);
        }
        fragmentSize += f.payload.byteLength;
        if (fragmentSize > this.#maxMessage) {
          throw new WsProtocolError(`message exceeds ${this.#maxMessage} bytes`, CloseCode.TooBig);
        }
        fragments.push(f.payload);
        if (!f.fin) continue;
        const data = join(fragments, fragmentSize);
        const binary = fragmentOpcode === Opcode.Binary;
        fragments = [];
        fragmentOpcode = -1;
        fragmentSize = 0;
        if (!binary) {
          try {
            utf8.decode(data);
          } catch {
            throw new WsProtocolError("text message is not UTF-8", CloseCode.InvalidData);
          }
        }
        await this.#deliver({ binary, data });
        if (this.#closed) return;
      }
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof WsProtocolError) {
        reason = `protocol error: ${err.message}`;
        this.#log.warn("WebSocket protocol error, closing connection", { error: err.message });
        if (!this.#sentClose) {
          this.#sentClose = true;
          await this.#write(encodeWsFrame(Opcode.Close, closePayload(err.code, err.message)))
            .catch(() => {});
        }
      } else if (err instanceof UnexpectedEof) {
        reason = err.message;
      } else {
        reason = `read failed: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    this.#teardown(reason);
  }

  async #deliver(m: WsMessage): Promise<void> {
    if (this.#canceled) return;
    this.#controller.enqueue(m);
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.#canceled && !this.#closed) {
      await new Promise<void>((resolve) => (this.#space = resolve));
    }
  }

  #teardown(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#idle.stop();
    try {
      this.#controller.close();
    } catch {
      // Canceled by the consumer.
    }
    this.#wake();
    this.#transport.close();
    this.#done.resolve();
  }
}

function closePayload(code: number, reason: string): Uint8Array {
  // §5.5: a control payload is at most 125 bytes: 2 for the code, 123 for the reason.
  let r = new TextEncoder().encode(reason);
  if (r.byteLength > 123) r = r.subarray(0, 123);
  const out = new Uint8Array(2 + r.byteLength);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
