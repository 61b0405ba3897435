/**
 * One HTTP/2 request stream: its state and flow-control windows, and the handle the
 * application uses to answer it.
 *
 * @module
 */
import type { ErrorCode } from "./_h2_frame.ts";
import type { EncodedBlock } from "./_hpack.ts";

/** Why a stream ended before the server finished it. */
export type AbortReason =
  /** The client sent RST_STREAM. */
  | "reset"
  /** The connection closed or failed. */
  | "connection-lost"
  /** The server closed the connection (shutdown). */
  | "shutdown"
  /** The client broke the protocol on this stream; we reset it. */
  | "protocol-error";

/**
 * What the application does with one request stream. Bytes handed to {@link onData} count
 * against the connection's receive budget until the application gives them back with
 * {@link H2Stream.consume}: flow-control credit follows consumption, not receipt.
 */
export interface StreamListener {
  /** Request body bytes; a view that is only valid during the call. */
  onData(chunk: Uint8Array): void;
  /** The client finished sending (END_STREAM). */
  onEnd(): void;
  /** The stream ended before the application finished its response. */
  onAbort(reason: AbortReason, code?: ErrorCode): void;
}

/** What a stream asks of the connection that owns it. */
export interface StreamOwner {
  respond(s: H2Stream, block: EncodedBlock, endStream: boolean): void;
  write(
    s: H2Stream,
    a: Uint8Array,
    b: Uint8Array | undefined,
    done: ((err?: Error) => void) | undefined,
  ): void;
  end(s: H2Stream, trailers: EncodedBlock): void;
  reset(s: H2Stream, code: ErrorCode): void;
  consume(s: H2Stream, n: number): void;
  need(s: H2Stream, n: number): void;
}

/** DATA queued on a stream: `a` then `b`, framed as windows allow. */
export interface PendingWrite {
  a: Uint8Array;
  b: Uint8Array | undefined;
  /** Bytes of a+b already framed. */
  off: number;
  size: number;
  done: ((err?: Error) => void) | undefined;
}

/** One request stream as the application sees it: respond, write, end or reset. */
export class H2Stream {
  /** The stream identifier. */
  readonly id: number;
  /** @internal receive window left for the client. */
  recvWindow: number;
  /** @internal send window the client granted us. */
  sendWindow: number;
  /** @internal bytes handed to the listener and not yet consumed. */
  buffered = 0;
  /** @internal the level {@link buffered} must reach before the listener can consume (0: none). */
  demand = 0;
  /** @internal receive credit beyond the initial window, reserved from the connection's pool. */
  extra = 0;
  /** @internal queued for a reservation from the connection's pool. */
  waiting = false;
  /** @internal the client sent END_STREAM. */
  remoteDone = false;
  /** @internal our END_STREAM is written (or the stream was reset). */
  localDone = false;
  /** @internal response headers were written. */
  headersSent = false;
  /** @internal the stream left the connection's table. */
  closed = false;
  /** @internal */
  listener: StreamListener | undefined;
  /** @internal DATA waiting for flow-control window. */
  readonly pending: PendingWrite[] = [];
  /** @internal bytes in {@link pending}. */
  pendingBytes = 0;
  /** @internal trailers to send once {@link pending} drains. */
  trailers: EncodedBlock | undefined;
  /** @internal declared content-length, checked against the body. */
  contentLength: number | undefined;
  /** @internal body bytes received. */
  received = 0;
  readonly #owner: StreamOwner;

  /** @internal streams are created by the connection. */
  constructor(owner: StreamOwner, id: number, recvWindow: number, sendWindow: number) {
    this.#owner = owner;
    this.id = id;
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  /** True once the stream can take no more output (finished, reset, or connection gone). */
  get done(): boolean {
    return this.localDone || this.closed;
  }

  /** Sends the response headers; with `endStream` they are the whole response. */
  respond(block: EncodedBlock, endStream: boolean): void {
    this.#owner.respond(this, block, endStream);
  }

  /**
   * Queues `a` then `b` as DATA, sent as flow control allows; `done` runs once the bytes
   * are handed to the socket buffer (or with an error if the stream ends first).
   */
  write(a: Uint8Array, b?: Uint8Array, done?: (err?: Error) => void): void {
    this.#owner.write(this, a, b, done);
  }

  /** Sends trailers after all queued DATA, ending the stream. */
  end(trailers: EncodedBlock): void {
    this.#owner.end(this, trailers);
  }

  /** Ends the stream at once with RST_STREAM(`code`), dropping queued DATA. */
  reset(code: ErrorCode): void {
    this.#owner.reset(this, code);
  }

  /**
   * Gives back `n` bytes received through {@link StreamListener.onData}: the application
   * has processed or dropped them, so the client may send as many more.
   */
  consume(n: number): void {
    this.#owner.consume(this, n);
  }

  /**
   * Says the application can consume nothing until `n` more bytes arrive (a message
   * prefix declared its length): the stream's window is opened that far, from the
   * connection's pool, so a message larger than the initial window does not stall. A
   * {@link consume} ends the need.
   */
  need(n: number): void {
    this.#owner.need(this, n);
  }
}
