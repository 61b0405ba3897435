/**
 * One attach or exec connection after its hello: output goes out as frames, stdin and
 * resize frames come in.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type { StreamName } from "./_cri_log.ts";
import type { OutputSubscriber } from "./_io.ts";
import {
  type ByteReader,
  decodeResize,
  encodeExit,
  encodeFrame,
  type ExitFrame,
  FrameType,
  SerialWriter,
  type TerminalSize,
} from "../protocol.ts";

/** An attacher this far behind is dropped rather than holding the container's output. */
const DROP_AFTER_BYTES = 4 << 20;
/** With backpressure, output waits while this much is queued for the client. */
const HIGH_WATER_BYTES = 256 << 10;

/** What the session does with the client's input. */
export interface SessionInput {
  stdin?(data: Uint8Array): Promise<void>;
  stdinEnd?(): Promise<void>;
  resize?: ((size: TerminalSize) => void) | undefined;
}

/** A client connected for stdio. */
export class FrameSession implements OutputSubscriber {
  readonly #conn: Deno.Conn;
  readonly #reader: ByteReader;
  readonly #writer: SerialWriter;
  readonly #want: Record<StreamName, boolean>;
  readonly #log: Logger;
  readonly #backpressure: boolean;
  readonly #limit: number | undefined;
  readonly #sent: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  #closed = false;
  #onClose: (() => void)[] = [];

  /** Sends the streams asked for; `outputLimit` caps each stream's bytes (ExecSync). */
  constructor(
    conn: Deno.Conn,
    reader: ByteReader,
    opts: {
      stdout: boolean;
      stderr: boolean;
      backpressure?: boolean;
      outputLimit?: number;
      logger: Logger;
    },
  ) {
    this.#conn = conn;
    this.#reader = reader;
    this.#writer = new SerialWriter(conn);
    this.#want = { stdout: opts.stdout, stderr: opts.stderr };
    this.#backpressure = opts.backpressure ?? false;
    this.#limit = opts.outputLimit !== undefined && opts.outputLimit > 0
      ? opts.outputLimit
      : undefined;
    this.#log = opts.logger;
  }

  /** True once the connection is closed (by either side). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` when the session closes. */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  data(stream: StreamName, chunk: Uint8Array): void {
    if (this.#closed || !this.#want[stream]) return;
    let part = chunk;
    if (this.#limit !== undefined) {
      const left = this.#limit - this.#sent[stream];
      if (left <= 0) return;
      if (part.byteLength > left) part = part.subarray(0, left);
      this.#sent[stream] += part.byteLength;
    }
    if (part.byteLength === 0) return;
    const type = stream === "stdout" ? FrameType.STDOUT : FrameType.STDERR;
    this.#send(encodeFrame(type, part));
    if (!this.#backpressure && this.#writer.queued > DROP_AFTER_BYTES) {
      this.#log.warn("dropping a stdio client that does not keep up", {
        queuedBytes: this.#writer.queued,
      });
      this.close();
    }
  }

  end(stream: StreamName): void {
    if (this.#closed || !this.#want[stream]) return;
    this.#send(encodeFrame(stream === "stdout" ? FrameType.STDOUT : FrameType.STDERR));
  }

  async room(): Promise<void> {
    while (!this.#closed && this.#writer.queued > HIGH_WATER_BYTES) {
      await this.#writer.flushed();
    }
  }

  /** Sends the EXIT frame, then closes once everything is written. */
  async exit(exit: ExitFrame): Promise<void> {
    if (this.#closed) return;
    this.#send(encodeExit(exit));
    await this.#writer.flushed();
    this.close();
  }

  /** Reads the client's frames until it disconnects; then closes the session. */
  async serve(input: SessionInput): Promise<void> {
    try {
      for (;;) {
        const frame = await this.#reader.readFrame();
        if (frame === null) break;
        switch (frame.type) {
          case FrameType.STDIN:
            if (frame.payload.byteLength === 0) await input.stdinEnd?.();
            else await input.stdin?.(frame.payload);
            break;
          case FrameType.RESIZE:
            try {
              input.resize?.(decodeResize(frame.payload));
            } catch (err) {
              this.#log.warn("resize failed", { err });
            }
            break;
          default:
            throw new Error(`unexpected frame type ${frame.type}`);
        }
      }
    } catch (err) {
      if (!this.#closed) this.#log.debug("stdio client ended", { err });
    } finally {
      this.close();
    }
  }

  /** Closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.cancel();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    for (const fn of this.#onClose.splice(0)) {
      try {
        fn();
      } catch (err) {
        this.#log.warn("session close handler failed", { err });
      }
    }
  }

  #send(frame: Uint8Array): void {
    this.#writer.write(frame).catch(() => this.close());
  }
}
