/**
 * The output side of a connection: one buffer of outgoing frames, and the DATA scheduler
 * that respects the peer's connection and stream windows and its maximum frame size,
 * serving streams round-robin.
 *
 * @module
 */
import { DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, FrameWriter } from "./_h2_frame.ts";
import type { EncodedBlock } from "./_hpack.ts";
import { TABLE_SIZE_ZERO } from "./_hpack.ts";
import type { H2Stream } from "./_h2_stream.ts";

/** Output beyond this waits for the socket before more DATA is framed. */
export const HIGH_WATER = 256 * 1024;

/** Frames waiting for the socket, and DATA waiting for window. */
export class Sender {
  /** Frames not yet handed to the socket. */
  readonly out: FrameWriter = new FrameWriter();
  /** What the peer lets us send on the connection. */
  connWindow: number = DEFAULT_WINDOW;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE;
  readonly #queue: H2Stream[] = [];
  #tableSizeSent = false;
  readonly #trailersSent: (s: H2Stream) => void;

  /** `trailersSent` runs when queued trailers go out after a stream's last DATA. */
  constructor(trailersSent: (s: H2Stream) => void) {
    this.#trailersSent = trailersSent;
  }

  /**
   * A field block as HEADERS (+ CONTINUATION). The first block of the connection starts
   * with a dynamic table size update to 0: we never index, and saying so once keeps us
   * correct whatever SETTINGS_HEADER_TABLE_SIZE the peer announces later.
   */
  headers(streamId: number, block: EncodedBlock, endStream: boolean): void {
    if (!this.#tableSizeSent) {
      this.#tableSizeSent = true;
      const withUpdate = new Uint8Array(block.length + 1);
      withUpdate.set(TABLE_SIZE_ZERO);
      withUpdate.set(block, 1);
      block = withUpdate;
    }
    this.out.headers(streamId, block, endStream, this.maxFrameSize);
  }

  /** Queues DATA on `s` and frames what the windows allow now. */
  enqueue(
    s: H2Stream,
    a: Uint8Array,
    b: Uint8Array | undefined,
    done: ((err?: Error) => void) | undefined,
  ): void {
    const size = a.length + (b?.length ?? 0);
    s.pending.push({ a, b, off: 0, size, done });
    if (s.pendingBytes === 0) this.#queue.push(s);
    s.pendingBytes += size;
    this.pump();
  }

  /** Drops what `s` still had queued, failing its writes with `err`. */
  drop(s: H2Stream, err: Error): void {
    if (s.pendingBytes === 0) return;
    const i = this.#queue.indexOf(s);
    if (i >= 0) this.#queue.splice(i, 1);
    s.pendingBytes = 0;
    s.trailers = undefined;
    for (const p of s.pending.splice(0)) p.done?.(err);
  }

  /** Moves queued DATA into the output buffer as far as windows and the buffer allow. */
  pump(): void {
    const q = this.#queue;
    let progress = true;
    while (progress && q.length > 0 && this.connWindow > 0 && this.out.length < HIGH_WATER) {
      progress = false;
      for (let i = 0; i < q.length;) {
        const s = q[i]!;
        if (s.sendWindow <= 0) {
          i++;
          continue;
        }
        this.#frame(s);
        progress = true;
        if (s.pendingBytes === 0) {
          q.splice(i, 1);
          if (s.trailers !== undefined) {
            this.headers(s.id, s.trailers, true);
            s.trailers = undefined;
            this.#trailersSent(s);
          }
        } else {
          i++;
        }
        if (this.connWindow <= 0 || this.out.length >= HIGH_WATER) break;
      }
    }
  }

  /** One DATA frame for `s`, as large as the windows and the frame size allow. */
  #frame(s: H2Stream): void {
    const n = Math.min(this.maxFrameSize, s.sendWindow, this.connWindow, s.pendingBytes);
    this.out.dataHeader(s.id, n, false);
    s.sendWindow -= n;
    this.connWindow -= n;
    s.pendingBytes -= n;
    let left = n;
    while (left > 0) {
      const p = s.pending[0]!;
      const aLen = p.a.length;
      if (p.off < aLen) {
        const k = Math.min(left, aLen - p.off);
        this.out.append(k === aLen ? p.a : p.a.subarray(p.off, p.off + k));
        p.off += k;
        left -= k;
      }
      if (left > 0 && p.b !== undefined && p.off < p.size) {
        const bOff = p.off - aLen;
        const k = Math.min(left, p.size - p.off);
        this.out.append(k === p.b.length ? p.b : p.b.subarray(bOff, bOff + k));
        p.off += k;
        left -= k;
      }
      if (p.off === p.size) {
        s.pending.shift();
        p.done?.();
      }
    }
  }
}
