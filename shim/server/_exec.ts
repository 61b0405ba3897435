/**
 * Processes exec'd into the container.
 *
 * `runc exec --detach --pid-file …`, then the shim reaps the process itself (it is re-parented
 * to the shim, the subreaper, when runc exits) — the way containerd's runc shim does it
 * (`pkg/process/exec.go`), rather than a foreground `runc exec` that stays as the process's
 * parent. Reasons: the shim knows the real pid, so a timeout or a vanished client kills the
 * process itself (killing a foreground runc would leave it running in the container);
 * no runc process lingers for the length of a long exec; and every exit goes through the one
 * reaper, so exec probes leave no zombies behind.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type { FdStream } from "../../ffi/fd.ts";
import {
  exitCodeOf,
  sendSignal,
  Signal,
  signalProcessGroup,
  type WaitStatus,
} from "../../ffi/process.ts";
import { setWindowSize } from "../../ffi/pty.ts";
import { ConsoleSocket } from "./_console.ts";
import { OutputHub, pipeStdin, ptyStdin, type StdinTarget } from "./_io.ts";
import type { Reaper } from "./_reaper.ts";
import type { Runc } from "./_runc.ts";
import type { FrameSession } from "./_session.ts";
import type { ExecSpec } from "../protocol.ts";
import { readPidFile } from "./_pidfile.ts";
import { scheduleGc } from "./_gc.ts";

/** After the process exits, its output may take this long to end before it is cut. */
const EXEC_DRAIN_MS = 1000;

/** What an exec needs from its container. */
export interface ExecContext {
  readonly runc: Runc;
  readonly reaper: Reaper;
  readonly stateDir: string;
  readonly logger: Logger;
}

let seq = 0;

/** One exec'd process, started and waiting for its client. */
export class ExecProcess {
  /** The process's pid (in the shim's pid namespace). */
  readonly pid: number;
  readonly #spec: ExecSpec;
  readonly #child: Deno.ChildProcess;
  readonly #pty: FdStream | undefined;
  readonly #status: Promise<WaitStatus>;
  readonly #log: Logger;

  private constructor(
    pid: number,
    spec: ExecSpec,
    child: Deno.ChildProcess,
    pty: FdStream | undefined,
    status: Promise<WaitStatus>,
    log: Logger,
  ) {
    this.pid = pid;
    this.#spec = spec;
    this.#child = child;
    this.#pty = pty;
    this.#status = status;
    this.#log = log;
  }

  /** Runs `runc exec --detach`; throws runc's own error when the process cannot start. */
  static async start(ctx: ExecContext, spec: ExecSpec): Promise<ExecProcess> {
    const n = ++seq;
    const pidFile = `${ctx.stateDir}/exec-${n}.pid`;
    const console = spec.tty ? ConsoleSocket.listen(`${ctx.stateDir}/t${n}`) : undefined;
    const args = ["--detach", "--pid-file", pidFile];
    if (console) args.push("--tty", "--console-socket", console.path);
    for (const e of spec.env ?? []) args.push("--env", e);
    if (spec.cwd) args.push("--cwd", spec.cwd);
    args.push(ctx.runc.id, ...spec.args);
    const log = ctx.logger.with({ exec: n });
    try {
      // The process inherits runc's stdio: pipes we read, or the pty for a tty exec.
      const proc = ctx.runc.spawn("exec", args, {
        stdin: !spec.tty && spec.stdin ? "piped" : "null",
        stdout: spec.tty ? "null" : "piped",
        stderr: spec.tty ? "null" : "piped",
      });
      const failure = await proc.wait();
      if (failure) {
        // (A stream getter of Deno's child throws unless that stream is piped.)
        if (!spec.tty) {
          await proc.child.stdout.cancel().catch(() => {});
          await proc.child.stderr.cancel().catch(() => {});
          if (spec.stdin) await proc.child.stdin.close().catch(() => {});
        }
        throw ctx.runc.error("exec", failure, proc.logSince);
      }
      const pid = readPidFile(pidFile);
      const status = ctx.reaper.wait(pid);
      let pty: FdStream | undefined;
      if (console) {
        try {
          pty = console.receive(`exec ${n} of container "${ctx.runc.id}"`);
        } catch (err) {
          sendSignal(pid, Signal.SIGKILL);
          throw err;
        }
      }
      log.debug("exec started", { pid, args: spec.args });
      return new ExecProcess(pid, spec, proc.child, pty, status, log);
    } finally {
      console?.close();
      try {
        Deno.removeSync(pidFile);
      } catch {
        // not written (runc failed early)
      }
    }
  }

  /**
   * Connects the process to `session` until it exits; then sends the exit frame. The
   * process is killed on timeout, and when the client goes away before it exits.
   */
  async run(session: FrameSession): Promise<void> {
    const spec = this.#spec;
    const hub = new OutputHub({ backpressure: true, logger: this.#log });
    hub.subscribe(session);
    let stdin: StdinTarget | undefined;
    if (this.#pty) {
      hub.pump("stdout", this.#pty.readable);
      if (spec.stdin) stdin = ptyStdin(this.#pty);
    } else {
      hub.pump("stdout", this.#child.stdout);
      hub.pump("stderr", this.#child.stderr);
      if (spec.stdin) stdin = pipeStdin(this.#child.stdin);
    }
    let exited = false;
    const kill = (why: string) => {
      if (exited) return;
      this.#log.debug("killing exec", { pid: this.pid, why });
      try {
        // runc makes the exec'd process a session and group leader (pid = pgid = sid):
        // its whole group goes, so `sh -c 'sleep 1000 & wait'` leaves no sleep behind.
        signalProcessGroup(this.pid, Signal.SIGKILL);
        sendSignal(this.pid, Signal.SIGKILL);
      } catch (err) {
        this.#log.warn("cannot kill exec", { pid: this.pid, err });
      }
    };
    session.onClose(() => kill("client went away"));
    const pty = this.#pty;
    session.serve({
      stdin: async (data) => {
        await stdin?.write(data).catch(() => {});
      },
      stdinEnd: async () => {
        await stdin?.close();
      },
      resize: pty
        ? (size) => setWindowSize(pty.fd, { cols: size.width, rows: size.height })
        : undefined,
    });
    let timedOut = false;
    const timer = spec.timeoutMs && spec.timeoutMs > 0
      ? setTimeout(() => {
        timedOut = true;
        kill("timeout");
      }, spec.timeoutMs)
      : undefined;
    let status: WaitStatus;
    try {
      status = await this.#status;
    } finally {
      exited = true;
      clearTimeout(timer);
    }
    if (!(await hub.drain(EXEC_DRAIN_MS))) {
      this.#log.debug("exec output still open after exit; cut", { pid: this.pid });
    }
    await stdin?.close();
    this.#pty?.close();
    const exitCode = exitCodeOf(status);
    this.#log.debug("exec exited", { pid: this.pid, exitCode, timedOut });
    await session.exit(timedOut ? { exitCode, timedOut } : { exitCode });
    scheduleGc();
  }
}
