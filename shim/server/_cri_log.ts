/**
 * The CRI container log: `<RFC3339Nano> <stdout|stderr> <P|F> <text>\n` per line, as the
 * kubelet and `crictl logs` parse it (cri-api `constants.go`).
 *
 * Splitting follows containerd's `internal/cri/io/logger.go` exactly:
 * - a line ends at `\n`; a `\r` right before it is dropped too;
 * - a line longer than the limit (16 KiB, containerd's `max_container_log_line_size`) is
 *   written as `P` pieces of exactly the limit, then the rest as `F`;
 * - text left without a newline when the stream ends is written as `P` (the line was
 *   cut by the exit, not finished).
 *
 * Reopen (kubelet log rotation: rename, then ReopenContainerLog) opens the new file first
 * and then swaps it in between two writes, so nothing is lost or written to the old name.
 *
 * @module
 */
import { formatRfc3339Nano, nowNs } from "../../lib/clock.ts";

/** containerd's default `max_container_log_line_size`. */
export const MAX_LOG_LINE = 16 * 1024;

/** P: partial (more of this line follows, or the stream ended mid-line); F: full. */
export type LogTag = "P" | "F";

/** Receives the pieces of lines: the tag and the content, without the newline. */
export type EmitLine = (tag: LogTag, content: Uint8Array) => void;

const NL = 0x0a;
const CR = 0x0d;

/** Cuts one stream's bytes into CRI log lines. Holds at most one unfinished line. */
export class LineSplitter {
  readonly #max: number;
  #pending: Uint8Array[] = [];
  #length = 0;

  /** Splits lines longer than `maxLen` bytes into `P` pieces. */
  constructor(maxLen = MAX_LOG_LINE) {
    if (!Number.isInteger(maxLen) || maxLen < 1) {
      throw new RangeError(`log line limit must be a positive integer, got ${maxLen}`);
    }
    this.#max = maxLen;
  }

  /** Bytes of the unfinished line held. */
  get pending(): number {
    return this.#length;
  }

  /** Feeds a chunk; complete lines and over-long pieces go to `emit`. */
  push(chunk: Uint8Array, emit: EmitLine): void {
    let start = 0;
    while (start < chunk.byteLength) {
      const nl = chunk.indexOf(NL, start);
      const end = nl < 0 ? chunk.byteLength : nl;
      if (end > start) this.#append(chunk.subarray(start, end), emit);
      if (nl < 0) return;
      this.#finishLine(emit);
      start = nl + 1;
    }
  }

  /** The stream ended: what is left is a line cut by the exit, written as `P`. */
  end(emit: EmitLine): void {
    while (this.#length > this.#max) emit("P", this.#take(this.#max));
    if (this.#length > 0) emit("P", this.#take(this.#length));
  }

  #append(part: Uint8Array, emit: EmitLine): void {
    this.#pending.push(part);
    this.#length += part.byteLength;
    // Cut only while strictly over the limit: a line of exactly the limit is still one F.
    // A trailing CR one past the limit waits for the next byte: before a newline it is
    // part of the line ending, not content (containerd measures lines without "\r\n").
    while (this.#length > this.#max) {
      if (this.#length === this.#max + 1 && this.#lastByte() === CR) break;
      emit("P", this.#take(this.#max));
    }
  }

  #lastByte(): number | undefined {
    const last = this.#pending[this.#pending.length - 1];
    return last?.[last.byteLength - 1];
  }

  #finishLine(emit: EmitLine): void {
    let line = this.#take(this.#length);
    if (line.byteLength > 0 && line[line.byteLength - 1] === CR) line = line.subarray(0, -1);
    emit("F", line);
  }

  /** Removes and returns the first `n` pending bytes as one array. */
  #take(n: number): Uint8Array {
    const first = this.#pending[0];
    if (first !== undefined && first.byteLength === n) {
      this.#pending.shift();
      this.#length -= n;
      return first;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const head = this.#pending[0]!;
      const want = n - off;
      if (head.byteLength <= want) {
        out.set(head, off);
        off += head.byteLength;
        this.#pending.shift();
      } else {
        out.set(head.subarray(0, want), off);
        this.#pending[0] = head.subarray(want);
        off += want;
      }
    }
    this.#length -= n;
    return out;
  }
}

/** The two streams a container log records. */
export type StreamName = "stdout" | "stderr";

const encoder = new TextEncoder();
const STREAM_BYTES: Record<StreamName, Uint8Array> = {
  stdout: encoder.encode(" stdout "),
  stderr: encoder.encode(" stderr "),
};
const TAG_BYTES: Record<LogTag, Uint8Array> = {
  P: encoder.encode("P "),
  F: encoder.encode("F "),
};

/** Formats `pieces` as CRI log lines, all stamped `ns`. */
export function formatLines(
  stream: StreamName,
  pieces: readonly { tag: LogTag; content: Uint8Array }[],
  ns: bigint,
): Uint8Array {
  const stamp = encoder.encode(formatRfc3339Nano(ns));
  const head = stamp.byteLength + STREAM_BYTES[stream].byteLength + 2;
  let size = 0;
  for (const p of pieces) size += head + p.content.byteLength + 1;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of pieces) {
    out.set(stamp, off);
    off += stamp.byteLength;
    out.set(STREAM_BYTES[stream], off);
    off += STREAM_BYTES[stream].byteLength;
    out.set(TAG_BYTES[p.tag], off);
    off += 2;
    out.set(p.content, off);
    off += p.content.byteLength;
    out[off++] = NL;
  }
  return out;
}

function openLog(path: string): Deno.FsFile {
  return Deno.openSync(path, { write: true, append: true, create: true, mode: 0o640 });
}

function writeAll(file: Deno.FsFile, data: Uint8Array): void {
  let off = 0;
  while (off < data.byteLength) off += file.writeSync(data.subarray(off));
}

/**
 * Writes both streams of a container to one CRI log file. Writes are synchronous, so the
 * lines of one chunk land together and a reopen falls between two chunks.
 */
export class CriLogWriter {
  /** The log file's path. */
  readonly path: string;
  readonly #splitters: Record<StreamName, LineSplitter>;
  #file: Deno.FsFile | undefined;
  #onError: (err: unknown) => void;
  #failing = false;

  private constructor(
    path: string,
    file: Deno.FsFile,
    maxLen: number,
    onError: (e: unknown) => void,
  ) {
    this.path = path;
    this.#file = file;
    this.#splitters = { stdout: new LineSplitter(maxLen), stderr: new LineSplitter(maxLen) };
    this.#onError = onError;
  }

  /**
   * Opens (creating, mode 0640, appending) the log at `path`. A failed write drops the
   * output, so a full disk never blocks the container; the first of a run of failures is
   * reported to `onError`.
   */
  static open(
    path: string,
    opts: { maxLen?: number; onError?: (err: unknown) => void } = {},
  ): CriLogWriter {
    return new CriLogWriter(
      path,
      openLog(path),
      opts.maxLen ?? MAX_LOG_LINE,
      opts.onError ?? (() => {}),
    );
  }

  /** Records a chunk of `stream`. */
  write(stream: StreamName, chunk: Uint8Array): void {
    const pieces: { tag: LogTag; content: Uint8Array }[] = [];
    this.#splitters[stream].push(chunk, (tag, content) => pieces.push({ tag, content }));
    this.#emit(stream, pieces);
  }

  /** `stream` ended: writes its unfinished line as `P`. */
  end(stream: StreamName): void {
    const pieces: { tag: LogTag; content: Uint8Array }[] = [];
    this.#splitters[stream].end((tag, content) => pieces.push({ tag, content }));
    this.#emit(stream, pieces);
  }

  /** Opens the file at {@link path} anew (after a rename) and continues there. */
  reopen(): void {
    if (!this.#file) throw new Error(`log ${this.path} is closed`);
    const next = openLog(this.path);
    const old = this.#file;
    this.#file = next;
    old.close();
  }

  /** Closes the file; later writes are dropped. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  /** False once closed. */
  get open(): boolean {
    return this.#file !== undefined;
  }

  #emit(stream: StreamName, pieces: { tag: LogTag; content: Uint8Array }[]): void {
    if (pieces.length === 0 || !this.#file) return;
    try {
      writeAll(this.#file, formatLines(stream, pieces, nowNs()));
      this.#failing = false;
    } catch (err) {
      // Once per run of failures: a removed log directory must not flood the shim's log.
      if (!this.#failing) this.#onError(err);
      this.#failing = true;
    }
  }
}
