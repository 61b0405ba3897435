/**
 * Runs a short-lived helper (a CNI plugin, `unshare`, `nsenter`) with a deadline.
 *
 * The child is started in its own session (`detached`), so on timeout or cancellation the
 * whole process group is killed: a plugin that forks (bridge runs host-local; a shell
 * script runs `sleep`) cannot leave a grandchild behind holding our pipes open.
 *
 * @module
 */
import { canceled, deadlineExceeded, SauropodError, wrap } from "../errors/mod.ts";
import { Signal, signalProcessGroup } from "../ffi/process.ts";

/** What a finished helper left behind. */
export interface ProcessOutput {
  /** Exit code, or 128 + signal number when it was killed by a signal. */
  readonly code: number;
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
}

/** Options of {@link runProcess}. */
export interface RunOptions {
  /** Arguments after the program name. */
  readonly args?: readonly string[];
  /** Variables added to (or overriding) the agent's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Bytes written to stdin, which is then closed. Without it stdin is /dev/null. */
  readonly stdin?: Uint8Array;
  /** Deadline of the whole run (exit and end of output). */
  readonly timeoutMs: number;
  /** Cancels the run (the caller went away). */
  readonly signal?: AbortSignal | undefined;
  /** Names the helper in errors, e.g. `CNI plugin "bridge" (ADD, network "x")`. */
  readonly what: string;
  /** Output kept per stream; more is read and dropped (default 1 MiB). */
  readonly maxOutputBytes?: number;
}

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };

/**
 * Runs `program` to completion and returns its exit code and output, whatever the code.
 * Throws deadline-exceeded when it outlives `timeoutMs` (it is killed, with its process
 * group), canceled when `signal` aborts, and not-found when `program` does not exist.
 */
export async function runProcess(program: string, opts: RunOptions): Promise<ProcessOutput> {
  if (opts.signal?.aborted) throw canceled(`${opts.what}: canceled before it started`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: [...(opts.args ?? [])],
      ...(opts.env ? { env: { ...opts.env } } : {}),
      stdin: opts.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (err) {
    throw wrap(err, `${opts.what}: cannot start ${program}`);
  }

  let exited = false;
  void child.status.then(() => (exited = true), () => {});
  const max = opts.maxOutputBytes ?? 1 << 20;
  const outReader = child.stdout.getReader();
  const errReader = child.stderr.getReader();
  const work = Promise.all([
    child.status,
    drain(outReader, max),
    drain(errReader, max),
    opts.stdin ? feed(child.stdin, opts.stdin) : Promise.resolve(),
  ]);

  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<"timeout" | "abort">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), opts.timeoutMs);
    onAbort = () => resolve("abort");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const first = await Promise.race([work, stop]);
    if (first === "timeout" || first === "abort") {
      // Even after the child exited, its group lives on while a grandchild holds our pipes;
      // a group with members keeps its id, so this cannot hit an unrelated process.
      killGroup(child);
      await child.status;
      await Promise.allSettled([outReader.cancel(), errReader.cancel()]);
      await work.catch(() => {});
      if (first === "abort") throw canceled(`${opts.what}: canceled; the process was killed`);
      throw deadlineExceeded(
        `${opts.what} did not finish within ${formatMs(opts.timeoutMs)} and was killed`,
      );
    }
    const [status, stdout, stderr] = first;
    const code = status.signal ? 128 + (SIGNALS[status.signal] ?? 0) : status.code;
    return { code, stdout, stderr };
  } catch (err) {
    if (err instanceof SauropodError) throw err;
    // Once reaped, the pid may belong to someone else: only signal a child still running.
    if (!exited) killGroup(child);
    throw wrap(err, `${opts.what}: cannot run ${program}`);
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal?.removeEventListener("abort", onAbort);
  }
}

function killGroup(child: Deno.ChildProcess): void {
  try {
    // The child leads its own session and group, so -pid reaches everything it forked.
    // Through libc: Deno.kill wants an unscoped --allow-run, which the agent does not have.
    signalProcessGroup(child.pid, Signal.SIGKILL);
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  max: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (kept >= max) continue;
    const part = value.length > max - kept ? value.subarray(0, max - kept) : value;
    chunks.push(part);
    kept += part.length;
  }
  const out = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function feed(stream: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = stream.getWriter();
  try {
    await writer.write(bytes);
    await writer.close();
  } catch {
    // The child exited without reading all of stdin (EPIPE): its exit code tells the story.
    await writer.abort().catch(() => {});
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const decoder = new TextDecoder();

/** The last `max` characters of `bytes` as text, trimmed: enough of stderr for a message. */
export function tailText(bytes: Uint8Array, max = 2048): string {
  const text = decoder.decode(bytes).trim();
  return text.length > max ? `…${text.slice(-max)}` : text;
}
