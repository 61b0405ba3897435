/**
 * Calls of the OCI runtime binary (runc; crun takes the same flags), each with a deadline
 * after which the runtime is killed and the call fails with deadline-exceeded naming it.
 *
 * Every call logs to `<stateDir>/runc.log` in JSON; on failure the error is runc's own
 * last logged error (see `_runc_log.ts`), never just its exit status.
 *
 * @module
 */
import {
  deadlineExceeded,
  type ErrorKind,
  failedPrecondition,
  internal,
  notFound,
  SauropodError,
} from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { RuntimeSpec } from "../protocol.ts";
import type { Reaper } from "./_reaper.ts";
import { lastRuncError, lastStderrLine } from "./_runc_log.ts";
import { scheduleGc } from "./_gc.ts";

/** Output of a finished call, capped at this many bytes per stream. */
const CAPTURE_MAX = 1 << 20;

/** Where the standard streams of a call go. */
export interface RuncStdio {
  stdin: "piped" | "null";
  stdout: "piped" | "null";
  stderr: "piped" | "null";
}

/** Maps runc's message to an error kind: its own words for a missing or stopped container. */
export function kindOfRuncMessage(msg: string): ErrorKind {
  if (/does not exist|container not found|no such container/i.test(msg)) return "not-found";
  if (/not running|is stopped|cannot (start|kill|exec)|already (running|started)/i.test(msg)) {
    return "failed-precondition";
  }
  return "internal";
}

async function collect(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!stream) return "";
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    if (size < CAPTURE_MAX) parts.push(chunk.subarray(0, CAPTURE_MAX - size));
    size += chunk.byteLength;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return new TextDecoder().decode(out);
}

/** The runtime binary, bound to one container. */
export class Runc {
  /** The container id. */
  readonly id: string;
  /** runc's JSON log file. */
  readonly logFile: string;
  readonly #spec: RuntimeSpec;
  readonly #reaper: Reaper;
  readonly #log: Logger;

  /** Binds `spec` to container `id`, logging into `stateDir`. */
  constructor(
    opts: { spec: RuntimeSpec; id: string; stateDir: string; reaper: Reaper; logger: Logger },
  ) {
    this.id = opts.id;
    this.logFile = `${opts.stateDir}/runc.log`;
    try {
      // runc would create it 0644; root's only, as the rest of the state dir.
      Deno.openSync(this.logFile, { create: true, append: true, mode: 0o600 }).close();
    } catch {
      // runc creates it, or reports why it cannot
    }
    this.#spec = opts.spec;
    this.#reaper = opts.reaper;
    this.#log = opts.logger;
  }

  /** The runtime's settings. */
  get spec(): RuntimeSpec {
    return this.#spec;
  }

  #globalArgs(): string[] {
    const args = ["--root", this.#spec.root];
    if (this.#spec.systemdCgroup) args.push("--systemd-cgroup");
    args.push(...(this.#spec.options ?? []));
    args.push("--log", this.logFile, "--log-format", "json");
    return args;
  }

  #logSize(): number {
    try {
      return Deno.statSync(this.logFile).size;
    } catch {
      return 0;
    }
  }

  /**
   * Starts `runc <call> <args>` with the given stdio (the caller owns the piped streams);
   * finish it with {@link RuncProcess.done}.
   */
  spawn(call: string, args: string[], stdio: RuncStdio, timeoutMs?: number): RuncProcess {
    const since = this.#logSize();
    this.#log.debug("runc", { call, args });
    const child = this.#reaper.spawn(this.#spec.binary, {
      args: [...this.#globalArgs(), call, ...args],
      ...stdio,
    });
    return new RuncProcess(this, call, child, since, timeoutMs ?? this.#spec.callTimeoutMs);
  }

  /**
   * Runs `runc <call> <args>` to completion, feeding `stdin` if given, and returns its
   * stdout. Throws runc's own error.
   */
  async run(
    call: string,
    args: string[],
    stdin?: Uint8Array,
    timeoutMs?: number,
  ): Promise<string> {
    const proc = this.spawn(call, args, {
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }, timeoutMs);
    const child = proc.child;
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    if (stdin && child.stdin) {
      const w = child.stdin.getWriter();
      await w.write(stdin).catch(() => {});
      await w.close().catch(() => {});
    }
    const failure = await proc.wait();
    const [stdout, stderr] = await Promise.all([out, err]);
    if (failure) throw this.error(call, failure, proc.logSince, stderr, timeoutMs);
    return stdout;
  }

  /** The error of a failed call: runc's last logged error, else its stderr, else the status. */
  error(
    call: string,
    failure: CallFailure,
    since: number,
    stderr = "",
    timeoutMs = this.#spec.callTimeoutMs,
  ): SauropodError {
    const what = `runtime call "${call}" for container "${this.id}"`;
    if (failure.timedOut) {
      return deadlineExceeded(
        `${what} did not finish within ${timeoutMs / 1000} s and was killed`,
      );
    }
    let logText = "";
    try {
      const f = Deno.openSync(this.logFile, { read: true });
      try {
        f.seekSync(since, Deno.SeekMode.Start);
        const buf = new Uint8Array(Math.min(CAPTURE_MAX, Math.max(0, this.#logSize() - since)));
        let off = 0;
        while (off < buf.byteLength) {
          const n = f.readSync(buf.subarray(off));
          if (n === null) break;
          off += n;
        }
        logText = new TextDecoder().decode(buf.subarray(0, off));
      } finally {
        f.close();
      }
    } catch {
      // no log written: fall back to stderr
    }
    const msg = lastRuncError(logText) ?? lastStderrLine(stderr) ??
      `exited with status ${failure.code}`;
    const kind = kindOfRuncMessage(msg);
    const text = `${what} failed: ${msg}`;
    if (kind === "not-found") return notFound(text);
    if (kind === "failed-precondition") return failedPrecondition(text);
    return internal(text);
  }
}

/** Why a call failed: its exit code, and whether it was killed at the deadline. */
export interface CallFailure {
  readonly code: number;
  readonly timedOut: boolean;
}

/** A running runtime call. */
export class RuncProcess {
  /** The Deno child (its piped streams belong to the caller). */
  readonly child: Deno.ChildProcess;
  /** The size of runc.log when the call started (its errors come after). */
  readonly logSince: number;
  readonly #runc: Runc;
  readonly #call: string;
  readonly #result: Promise<CallFailure | undefined>;

  /** Use {@link Runc.spawn}. */
  constructor(
    runc: Runc,
    call: string,
    child: Deno.ChildProcess,
    since: number,
    timeoutMs: number,
  ) {
    this.#runc = runc;
    this.#call = call;
    this.child = child;
    this.logSince = since;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, timeoutMs);
    this.#result = child.status.then((s) => {
      clearTimeout(timer);
      scheduleGc();
      return s.success && !timedOut ? undefined : { code: s.code, timedOut };
    });
  }

  /** Resolves when the call ends: `undefined` on success, else how it failed. */
  wait(): Promise<CallFailure | undefined> {
    return this.#result;
  }

  /** Waits for the call and throws runc's own error when it failed. */
  async done(): Promise<void> {
    const failure = await this.#result;
    if (failure) throw this.#runc.error(this.#call, failure, this.logSince);
  }
}
