/**
 * Exec and attach, independent of how the client is connected (SPDY streams or WebSocket
 * channels): start the backend session, copy stdio both ways, apply resizes, report the
 * outcome on the error channel, and clean up whichever side goes first.
 *
 * A client that vanishes (connection lost, idle timeout, server shutdown) is treated as a
 * hang-up: the exec'd process gets end-of-file on stdin (a ^D on a tty), then
 * {@link VANISH_GRACE_MS} to finish on its own, then the session is closed, which kills an
 * exec'd process. containerd instead leaves the process running with its stdin closed and
 * its output discarded until it exits on its own; we do not keep such orphans. An attach
 * just detaches; the container keeps running. When the server shuts down there is no
 * grace: the agent is going away, so its sessions are closed at once.
 *
 * @module
 */
import { isFailedPrecondition, isNotFound, messageOf } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { terminalSizes } from "./_resize.ts";
import { type CommandStatus, exitCodeStatus, internalErrorStatus, SUCCESS } from "./_status.ts";
import type { StdioSession, TerminalSize } from "./_types.ts";

/** After the process exits, how long its output may keep draining (a background child can hold the pipe). */
export const OUTPUT_DRAIN_MS = 2_000;
/** After the client vanishes, how long an exec'd process may take to exit by itself. */
export const VANISH_GRACE_MS = 5_000;

/** An output channel towards the client. */
export interface OutputChannel {
  /** Sends bytes; rejects once the client is gone. */
  write(data: Uint8Array): Promise<void>;
  /** Signals end of output where the protocol can (SPDY FIN); a no-op elsewhere. */
  end(): Promise<void>;
}

/** The client's side of an exec or attach, however it is carried. */
export interface CommandChannels {
  /** Bytes the client types; ends when the client closes stdin. */
  readonly stdin: ReadableStream<Uint8Array> | undefined;
  readonly stdout: OutputChannel | undefined;
  readonly stderr: OutputChannel | undefined;
  /** JSON terminal sizes from the client. */
  readonly resize: ReadableStream<Uint8Array> | undefined;
  /** Reports the outcome on the error channel in the negotiated format. */
  writeStatus(status: CommandStatus): Promise<void>;
  /** Resolves when the client's connection is gone. */
  readonly gone: Promise<void>;
  /** Ends every channel and closes the connection politely. */
  finish(): Promise<void>;
  /** Drops the connection. */
  abort(): void;
}

/** What is being run. */
export type CommandSpec =
  | { readonly kind: "exec"; readonly cmd: readonly string[] }
  | { readonly kind: "attach" };

/** Runs one exec or attach to its end. Never throws. */
export async function runCommand(
  ch: CommandChannels,
  spec: CommandSpec,
  start: () => Promise<StdioSession>,
  log: Logger,
  opts: {
    /** Aborted when the server shuts down: the grace and drain waits are cut short. */
    readonly shutdown?: AbortSignal;
  } = {},
): Promise<void> {
  const shutdown = opts.shutdown;
  const what = spec.kind === "exec" ? "executing command in container" : "attaching to container";
  let gone = false;
  ch.gone.then(() => (gone = true));

  let session: StdioSession;
  try {
    const starting = start();
    const first = await Promise.race([starting, ch.gone.then(() => undefined)]);
    if (first === undefined) {
      // The client left before the session existed: close it once it does.
      starting.then((s) => s.close(), () => {});
      log.info(`client left before ${spec.kind} started`);
      return;
    }
    session = first;
  } catch (err) {
    // A container that stopped or went away since the URL was minted is the client's
    // news, not the node's problem.
    const fields = { error: messageOf(err) };
    if (isFailedPrecondition(err) || isNotFound(err)) {
      log.info(`${spec.kind} failed to start`, fields);
    } else log.warn(`${spec.kind} failed to start`, fields);
    await ch.writeStatus(internalErrorStatus(`error ${what}: ${messageOf(err)}`)).catch(() => {});
    await ch.finish();
    return;
  }

  const resizes = new ResizeQueue(session, log);
  const resizing = ch.resize ? resizes.pump(ch.resize) : Promise.resolve();
  const stdin = new StdinPump(ch.stdin, session.stdin, resizes);
  const outputs = [
    copyOut(session.stdout, ch.stdout),
    copyOut(session.stderr, ch.stderr),
  ];
  const exit = session.exit.then(
    (r) => ({ ok: true as const, exitCode: r.exitCode }),
    (err: unknown) => ({ ok: false as const, error: err }),
  );

  const first = await Promise.race([exit, ch.gone.then(() => "gone" as const)]);
  if (first === "gone" || gone) {
    log.info(`client left during ${spec.kind}, closing the session`);
    await stdin.hangUp(spec.kind === "exec");
    for (const o of outputs) o.cancel();
    if (spec.kind === "exec") await raceTimeout(exit, VANISH_GRACE_MS, shutdown);
    session.close();
    resizes.stop();
    await Promise.allSettled([resizing, stdin.done, ...outputs.map((o) => o.done)]);
    return;
  }

  // The process (or the container, for attach) has exited: let its last output through.
  await raceTimeout(Promise.all(outputs.map((o) => o.done)), OUTPUT_DRAIN_MS, shutdown);
  for (const o of outputs) o.cancel();
  stdin.stop();
  let status: CommandStatus;
  if (!first.ok) {
    log.warn(`${spec.kind} ended without an exit status`, { error: messageOf(first.error) });
    status = internalErrorStatus(`error ${what}: ${messageOf(first.error)}`);
  } else if (spec.kind === "exec" && first.exitCode !== 0) {
    status = exitCodeStatus(first.exitCode, spec.cmd);
  } else {
    status = SUCCESS;
  }
  if (spec.kind === "exec") {
    log.debug("exec finished", { exitCode: first.ok ? first.exitCode : undefined });
  }
  await Promise.allSettled(outputs.map((o) => o.done));
  await Promise.all([ch.stdout?.end(), ch.stderr?.end()]).catch(() => {});
  await ch.writeStatus(status).catch(() => {});
  await ch.finish();
  session.close();
  resizes.stop();
  await Promise.allSettled([resizing, stdin.done]);
}

/** `p`, or undefined after `ms` or once `signal` is aborted, whichever comes first. */
function raceTimeout<T>(p: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  if (signal?.aborted) return Promise.race([p, Promise.resolve(undefined)]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const t = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    onAbort = () => resolve(undefined);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([p, t]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  });
}

/**
 * Applies resizes and lets stdin wait for them: a client that resizes and then types
 * expects the program to see the new size first. At most one size waits while another is
 * applied, and a newer one replaces it: only the latest size matters, and a client that
 * floods resizes faster than the shim applies them costs one slot, not a queue.
 */
export class ResizeQueue {
  readonly #session: Pick<StdioSession, "resize">;
  readonly #log: Logger;
  #chain: Promise<void> = Promise.resolve();
  #next: TerminalSize | undefined;
  #applying = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  constructor(session: Pick<StdioSession, "resize">, log: Logger) {
    this.#session = session;
    this.#log = log;
  }

  /** Resolves when the latest size pushed so far has been applied (or failed). */
  get settled(): Promise<void> {
    return this.#chain;
  }

  push(size: TerminalSize): void {
    this.#next = size;
    if (!this.#applying) this.#chain = this.#apply();
  }

  async #apply(): Promise<void> {
    this.#applying = true;
    try {
      for (let size = this.#next; size !== undefined; size = this.#next) {
        this.#next = undefined;
        try {
          await this.#session.resize(size);
        } catch (err) {
          this.#log.debug("terminal resize failed", { error: messageOf(err) });
        }
      }
    } finally {
      this.#applying = false;
    }
  }

  async pump(source: ReadableStream<Uint8Array>): Promise<void> {
    const reader = source.getReader();
    this.#reader = reader;
    const chunks = {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          yield value;
        }
      },
    };
    try {
      for await (const size of terminalSizes(chunks)) this.push(size);
    } catch {
      // The client's resize stream broke off: no more resizes.
    }
  }

  /** Stops reading resizes (the session is over). */
  stop(): void {
    this.#reader?.cancel().catch(() => {});
  }
}

/** Copies the client's stdin into the session's. */
class StdinPump {
  readonly done: Promise<void>;
  readonly #source: ReadableStream<Uint8Array> | undefined;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #ended = false;

  constructor(
    source: ReadableStream<Uint8Array> | undefined,
    sink: WritableStream<Uint8Array> | undefined,
    resizes: ResizeQueue,
  ) {
    this.#source = source;
    this.#writer = sink?.getWriter();
    this.done = this.#run(resizes);
  }

  async #run(resizes: ResizeQueue): Promise<void> {
    if (!this.#source) return;
    this.#reader = this.#source.getReader();
    try {
      for (;;) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        if (!this.#writer) continue;
        await resizes.settled;
        await this.#writer.write(value);
      }
      // The client closed stdin: pass the end of file on (stdin_once is the backend's call).
      await this.#end(true);
    } catch {
      // The process stopped taking input (it exited) or the client broke off.
      this.#reader.cancel().catch(() => {});
    }
  }

  async #end(close: boolean): Promise<void> {
    if (this.#ended || !this.#writer) return;
    this.#ended = true;
    if (close) await this.#writer.close().catch(() => {});
    else await this.#writer.abort().catch(() => {});
  }

  /** The client is gone: end stdin (exec: EOF so the process may finish) and stop reading. */
  async hangUp(closeStdin: boolean): Promise<void> {
    this.#reader?.cancel().catch(() => {});
    await this.#end(closeStdin);
  }

  /** The session is over: stop reading the client's stdin. */
  stop(): void {
    this.#reader?.cancel().catch(() => {});
    this.#end(false);
  }
}

/** Copies a session output to the client until either side ends. */
function copyOut(
  source: ReadableStream<Uint8Array> | undefined,
  dest: OutputChannel | undefined,
): { done: Promise<void>; cancel(): void } {
  if (!source) return { done: Promise.resolve(), cancel() {} };
  const reader = source.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        // Without a client channel (not requested), output is drained and dropped.
        if (dest) await dest.write(value);
      }
    } catch {
      reader.cancel().catch(() => {});
    }
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}
