/**
 * The client side of attach and exec connections: frames turned into web streams, and the
 * collection of an ExecSync's output.
 *
 * @module
 */
import { canceled, unavailable } from "../../errors/mod.ts";
import { decodeExit, encodeFrame, encodeResize, type ExitFrame, FrameType } from "../protocol.ts";
import type { Dialed } from "./_conn.ts";
import type { ExecSyncResult, StdioSession, TerminalSize } from "./_types.ts";

/** stdin bytes go out in frames of at most this size. */
const STDIN_FRAME_MAX = 32 << 10;

/** A readable stream fed from the frame loop, which waits while the consumer is full. */
class Feed {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #demand: (() => void) | undefined;
  #done = false;

  constructor() {
    this.stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        this.#controller = c;
      },
      pull: () => {
        this.#demand?.();
        this.#demand = undefined;
      },
      cancel: () => {
        this.#done = true;
        this.#demand?.();
      },
    }, { highWaterMark: 4 });
  }

  /** Queues a chunk; resolves once the consumer wants more. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.#done) return;
    this.#controller.enqueue(chunk);
    while (!this.#done && (this.#controller.desiredSize ?? 1) <= 0) {
      await new Promise<void>((r) => (this.#demand = r));
    }
  }

  end(err?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    try {
      if (err === undefined) this.#controller.close();
      else this.#controller.error(err);
    } catch {
      // already closed by the consumer
    }
  }
}

/** A {@link StdioSession} over an attach or exec connection. */
export function frameSession(
  d: Dialed,
  what: string,
  streams: { stdin: boolean; stdout: boolean; stderr: boolean },
): StdioSession {
  const out = streams.stdout ? new Feed() : undefined;
  const err = streams.stderr ? new Feed() : undefined;
  let closedByUs = false;
  let exitFrame: ExitFrame | undefined;
  const send = (frame: Uint8Array) => d.writer.write(frame);

  const close = () => {
    closedByUs = true;
    d.reader.cancel();
    try {
      d.conn.close();
    } catch {
      // already closed
    }
  };

  const exit = (async () => {
    let failure: unknown;
    try {
      for (;;) {
        const frame = await d.reader.readFrame();
        if (frame === null) break;
        switch (frame.type) {
          case FrameType.STDOUT:
            if (frame.payload.byteLength === 0) out?.end();
            else await out?.push(frame.payload);
            break;
          case FrameType.STDERR:
            if (frame.payload.byteLength === 0) err?.end();
            else await err?.push(frame.payload);
            break;
          case FrameType.EXIT:
            exitFrame = decodeExit(frame.payload);
            break;
        }
        if (exitFrame) break;
      }
    } catch (e) {
      failure = e;
    } finally {
      out?.end();
      err?.end();
      close();
    }
    if (exitFrame) return { exitCode: exitFrame.exitCode };
    if (closedByUs) throw canceled(`${what} was closed`);
    throw unavailable(`${what} ended without an exit status`, { cause: failure });
  })();
  // Nobody may be waiting for the exit of a detached attach: keep that from being fatal.
  exit.catch(() => {});

  const stdin = streams.stdin
    ? new WritableStream<Uint8Array>({
      async write(chunk) {
        for (let off = 0; off < chunk.byteLength; off += STDIN_FRAME_MAX) {
          await send(encodeFrame(FrameType.STDIN, chunk.subarray(off, off + STDIN_FRAME_MAX)));
        }
      },
      async close() {
        await send(encodeFrame(FrameType.STDIN)).catch(() => {});
      },
    })
    : undefined;

  return {
    ...(stdin ? { stdin } : {}),
    ...(out ? { stdout: out.stream } : {}),
    ...(err ? { stderr: err.stream } : {}),
    resize: (size: TerminalSize) => send(encodeResize(size)),
    exit,
    close,
  };
}

/** Reads an ExecSync connection to its end, keeping at most `limit` bytes per stream. */
export async function collectExecSync(
  d: Dialed,
  what: string,
  limit: number,
  signal?: AbortSignal,
): Promise<ExecSyncResult> {
  const parts: Record<"stdout" | "stderr", Uint8Array[]> = { stdout: [], stderr: [] };
  const sizes = { stdout: 0, stderr: 0 };
  const keep = (k: "stdout" | "stderr", p: Uint8Array) => {
    const room = limit - sizes[k];
    if (room <= 0) return;
    const part = p.byteLength > room ? p.subarray(0, room) : p;
    parts[k].push(part);
    sizes[k] += part.byteLength;
  };
  const onAbort = () => {
    d.reader.cancel();
    try {
      d.conn.close();
    } catch {
      // already closed
    }
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let exit: ExitFrame | undefined;
  try {
    if (signal?.aborted) onAbort();
    for (;;) {
      const frame = await d.reader.readFrame();
      if (frame === null) break;
      if (frame.type === FrameType.STDOUT) keep("stdout", frame.payload);
      else if (frame.type === FrameType.STDERR) keep("stderr", frame.payload);
      else if (frame.type === FrameType.EXIT) {
        exit = decodeExit(frame.payload);
        break;
      }
    }
  } catch (err) {
    if (!signal?.aborted) throw unavailable(`${what} broke off`, { cause: err });
  } finally {
    signal?.removeEventListener("abort", onAbort);
    onAbort();
  }
  if (signal?.aborted) throw canceled(`${what} was cancelled`);
  if (!exit) throw unavailable(`${what} ended without an exit status`);
  return {
    exitCode: exit.exitCode,
    stdout: join(parts.stdout, sizes.stdout),
    stderr: join(parts.stderr, sizes.stderr),
    timedOut: exit.timedOut === true,
  };
}

function join(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteLength === size) return parts[0]!;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}
