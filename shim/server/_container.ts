/**
 * The one container a shim supervises: its state machine, its init process, its stdio and
 * log, its exit record.
 *
 *   new ─create→ created ─start→ running ─(init exits)→ stopped ─delete→ deleted
 *                   └────────────(init exits)─────────────┘
 *
 * A call in the wrong state is a failed-precondition naming the state. create, start,
 * update and delete run one at a time; state, wait, kill, attach and exec do not wait for
 * them.
 *
 * @module
 */
import {
  failedPrecondition,
  isFailedPrecondition,
  isNotFound,
  notFound,
  wrap,
} from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { FdStream } from "../../ffi/fd.ts";
import type { WaitStatus } from "../../ffi/process.ts";
import { setWindowSize } from "../../ffi/pty.ts";
import { type OomWatcher, watchOom } from "../../cgroups/oom.ts";
import { ConsoleSocket } from "./_console.ts";
import { CriLogWriter } from "./_cri_log.ts";
import { exitInfoOf, writeExitRecord } from "./_exit.ts";
import { OutputHub, pipeStdin, ptyStdin, type StdinTarget } from "./_io.ts";
import { readPidFile } from "./_pidfile.ts";
import type { Reaper } from "./_reaper.ts";
import { Runc } from "./_runc.ts";
import type { FrameSession } from "./_session.ts";
import { nowNs } from "../../lib/clock.ts";
import type { CreateParams, ExitInfo, StateInfo, TerminalSize } from "../protocol.ts";
import { Spans } from "../../lib/spans.ts";

/** After the init exits, its output may take this long to end before the exit is recorded. */
const EXIT_DRAIN_MS = 2000;

type Status = "new" | "creating" | "created" | "running" | "stopped" | "deleted";

/** The container of this shim. */
export class Container {
  /** The container id. */
  readonly id: string;
  readonly #stateDir: string;
  readonly #reaper: Reaper;
  readonly #log: Logger;
  #status: Status = "new";
  #pid = 0;
  #params: CreateParams | undefined;
  #runc: Runc | undefined;
  #hub: OutputHub | undefined;
  #stdin: StdinTarget | undefined;
  #stdinOnceDone = false;
  #pty: FdStream | undefined;
  #oom: OomWatcher | undefined;
  #exit: ExitInfo | undefined;
  #exitWaiters: ((e: ExitInfo) => void)[] = [];
  readonly #attached = new Set<FrameSession>();
  #serial: Promise<unknown> = Promise.resolve();
  #onGone: (() => void)[] = [];

  /** A container `id` whose files live in `stateDir`. */
  constructor(opts: { id: string; stateDir: string; reaper: Reaper; logger: Logger }) {
    this.id = opts.id;
    this.#stateDir = opts.stateDir;
    this.#reaper = opts.reaper;
    this.#log = opts.logger;
  }

  /** Runs `fn` once the container is deleted or its creation failed: the shim then exits. */
  onGone(fn: () => void): void {
    this.#onGone.push(fn);
  }

  /** True once create was asked for (the shim's bootstrap is over). */
  get createRequested(): boolean {
    return this.#status !== "new";
  }

  /** The runtime bound to this container (after create). */
  get runc(): Runc | undefined {
    return this.#runc;
  }

  #one<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#serial.then(fn);
    this.#serial = p.catch(() => {});
    return p;
  }

  #gone(): void {
    for (const fn of this.#onGone.splice(0)) fn();
  }

  /** `runc create`: the init waits for start; its pid is returned. */
  create(p: CreateParams): Promise<{ pid: number }> {
    return this.#one(async () => {
      if (this.#status !== "new") {
        throw failedPrecondition(`container "${this.id}" is already ${this.#status}`);
      }
      this.#status = "creating";
      this.#params = p;
      // Where create's time goes, in its log line (`bench/profile.ts` reads the agent's).
      const spans = new Spans();
      const runc = new Runc({
        spec: p.runtime,
        id: this.id,
        stateDir: this.#stateDir,
        reaper: this.#reaper,
        logger: this.#log,
      });
      this.#runc = runc;
      let log: CriLogWriter | undefined;
      let console: ConsoleSocket | undefined;
      try {
        if (p.logPath) {
          try {
            log = CriLogWriter.open(p.logPath, {
              onError: (err) => this.#log.warn("cannot write the container log", { err }),
            });
          } catch (err) {
            throw wrap(err, `cannot open log file ${p.logPath} of container "${this.id}"`);
          }
        }
        spans.mark("logOpenMs");
        const hub = new OutputHub({ ...(log ? { log } : {}), logger: this.#log });
        this.#hub = hub;
        const pidFile = `${this.#stateDir}/init.pid`;
        const args = ["--bundle", p.bundle, "--pid-file", pidFile];
        if (p.tty) {
          console = ConsoleSocket.listen(`${this.#stateDir}/tty`);
          args.push("--console-socket", console.path);
        }
        args.push(this.id);
        // Without a tty the init inherits runc's stdio: pipes that outlive runc.
        const proc = runc.spawn("create", args, {
          stdin: !p.tty && p.stdin ? "piped" : "null",
          stdout: p.tty ? "null" : "piped",
          stderr: p.tty ? "null" : "piped",
        });
        if (!p.tty) {
          hub.pump("stdout", proc.child.stdout);
          hub.pump("stderr", proc.child.stderr);
          if (p.stdin) this.#stdin = pipeStdin(proc.child.stdin);
        }
        await proc.done();
        spans.mark("runcMs");
        const pid = readPidFile(pidFile);
        if (console) {
          this.#pty = console.receive(`container "${this.id}"`);
          hub.pump("stdout", this.#pty.readable);
          if (p.stdin) this.#stdin = ptyStdin(this.#pty);
        }
        this.#pid = pid;
        this.#status = "created";
        this.#reaper.wait(pid).then((s) => this.#initExited(s));
        spans.mark("pidMs");
        try {
          this.#oom = await watchOom(pid, { logger: this.#log });
        } catch (err) {
          // Not fatal: the container runs, only OOMKilled cannot be reported.
          this.#log.warn("cannot watch OOM kills", { pid, err });
        }
        spans.mark("oomMs");
        this.#log.info("container created", { pid, ...spans.fields() });
        return { pid };
      } catch (err) {
        this.#log.warn("create failed; cleaning up", { err });
        await runc.run("delete", ["--force", this.id]).catch(() => {});
        await this.#stdin?.close();
        this.#hub?.cancel();
        this.#pty?.close();
        log?.close();
        this.#status = "deleted";
        queueMicrotask(() => this.#gone());
        throw err;
      } finally {
        console?.close();
      }
    });
  }

  /**
   * `runc start`: the init execs the container's process. The start time is taken before
   * runc runs, from the clock the exit time comes from: a container that exits at once
   * never finishes before it started.
   */
  start(): Promise<{ pid: number; startedAtNs: string }> {
    return this.#one(async () => {
      if (this.#status !== "created") {
        throw failedPrecondition(
          `container "${this.id}" is ${this.#status}; only a created container can start`,
        );
      }
      const startedAtNs = nowNs().toString();
      await this.#runc!.run("start", [this.id]);
      if (this.#status === "created") this.#status = "running";
      this.#log.info("container started", { pid: this.#pid });
      return { pid: this.#pid, startedAtNs };
    });
  }

  /** `runc kill`; not-found once the container has exited (unless `all`). */
  async kill(signal: number, all = false): Promise<void> {
    const s = this.#status;
    if (s === "new" || s === "creating" || s === "deleted") {
      throw failedPrecondition(`container "${this.id}" is ${s}; nothing to signal`);
    }
    if (s === "stopped" && !all) throw notFound(`container "${this.id}" has already exited`);
    const args = all ? ["--all", this.id, String(signal)] : [this.id, String(signal)];
    try {
      await this.#runc!.run("kill", args);
    } catch (err) {
      // The init may have exited between our check and runc's.
      if (isFailedPrecondition(err) || this.#status === "stopped") {
        throw notFound(`container "${this.id}" has already exited`, { cause: err });
      }
      throw err;
    }
  }

  /** The container's state. */
  state(): StateInfo {
    const s = this.#status;
    if (s === "new" || s === "creating") {
      throw failedPrecondition(`container "${this.id}" is not created yet`);
    }
    const status = s === "created" ? "created" : s === "running" ? "running" : "stopped";
    return this.#exit ? { status, pid: this.#pid, exit: this.#exit } : { status, pid: this.#pid };
  }

  /** Resolves when the init has exited and its exit record is written. */
  wait(): Promise<ExitInfo> {
    if (this.#exit) return Promise.resolve(this.#exit);
    if (this.#status === "new" || this.#status === "creating") {
      return Promise.reject(failedPrecondition(`container "${this.id}" is not created yet`));
    }
    return new Promise((resolve) => this.#exitWaiters.push(resolve));
  }

  /** Resizes the container's terminal. */
  resize(size: TerminalSize): void {
    if (!this.#pty) throw failedPrecondition(`container "${this.id}" has no terminal`);
    setWindowSize(this.#pty.fd, { cols: size.width, rows: size.height });
  }

  /** Reopens the log file (after the kubelet renamed it). */
  reopenLog(): void {
    const log = this.#hub?.log;
    if (!this.#params?.logPath || !log) {
      throw failedPrecondition(`container "${this.id}" has no log file`);
    }
    if (this.#status !== "created" && this.#status !== "running") {
      throw failedPrecondition(`container "${this.id}" is not running`);
    }
    if (!log.open) throw failedPrecondition(`the log of container "${this.id}" is closed`);
    try {
      log.reopen();
    } catch (err) {
      throw wrap(err, `cannot reopen log file ${log.path} of container "${this.id}"`);
    }
  }

  /** `runc update --resources -` with OCI LinuxResources. */
  update(resources: unknown): Promise<void> {
    return this.#one(async () => {
      if (this.#status !== "created" && this.#status !== "running") {
        throw failedPrecondition(`container "${this.id}" is ${this.#status}; cannot update it`);
      }
      const json = new TextEncoder().encode(JSON.stringify(resources));
      await this.#runc!.run("update", ["--resources", "-", this.id], json);
    });
  }

  /**
   * `runc delete` (`--force` while the init runs); then the shim exits. Deleting a deleted
   * container succeeds.
   */
  delete(): Promise<{ exit?: ExitInfo }> {
    return this.#one(async () => {
      const s = this.#status;
      if (s === "new") {
        this.#status = "deleted";
      } else if (s !== "deleted") {
        const force = s !== "stopped";
        try {
          await this.#runc!.run("delete", force ? ["--force", this.id] : [this.id]);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        if (force && this.#pid > 0) await this.#waitExit(this.#runc!.spec.callTimeoutMs);
        this.#status = "deleted";
        this.#oom?.close();
        this.#hub?.cancel();
        this.#hub?.log?.close();
        this.#pty?.close();
        this.#log.info("container deleted");
      }
      queueMicrotask(() => this.#gone());
      return this.#exit ? { exit: this.#exit } : {};
    });
  }

  /** Throws unless a client may attach now (with stdin if `wantStdin`). */
  checkAttach(wantStdin: boolean): void {
    if (this.#status !== "created" && this.#status !== "running") {
      throw failedPrecondition(`container "${this.id}" is not running`);
    }
    if (wantStdin && !this.#stdin) {
      throw failedPrecondition(`container "${this.id}" was not created with stdin`);
    }
  }

  /** Attaches a client to the container's stdio until it disconnects or the container exits. */
  attach(session: FrameSession, wantStdin: boolean): void {
    this.checkAttach(wantStdin);
    const hub = this.#hub!;
    const unsubscribe = hub.subscribe(session);
    this.#attached.add(session);
    const stdin = wantStdin ? this.#stdin : undefined;
    const detachStdin = () => {
      // stdin_once: the first attacher that used stdin closes it when it leaves.
      if (stdin && this.#params?.stdinOnce && !this.#stdinOnceDone) {
        this.#stdinOnceDone = true;
        stdin.close().catch(() => {});
      }
    };
    session.onClose(() => {
      unsubscribe();
      this.#attached.delete(session);
      detachStdin();
    });
    const pty = this.#pty;
    session.serve({
      stdin: async (data) => {
        await stdin?.write(data).catch(() => {});
      },
      stdinEnd: () => {
        detachStdin();
        return Promise.resolve();
      },
      resize: pty
        ? (size) => setWindowSize(pty.fd, { cols: size.width, rows: size.height })
        : undefined,
    });
  }

  /** What an exec needs (after create). */
  execContext(): { runc: Runc; reaper: Reaper; stateDir: string; logger: Logger } {
    if (this.#status !== "running" && this.#status !== "created") {
      throw failedPrecondition(`container "${this.id}" is ${this.#status}; cannot exec in it`);
    }
    return { runc: this.#runc!, reaper: this.#reaper, stateDir: this.#stateDir, logger: this.#log };
  }

  async #waitExit(ms: number): Promise<void> {
    if (this.#exit) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((r) => this.#exitWaiters.push(() => r())),
      new Promise<void>((r) => (timer = setTimeout(r, ms))),
    ]);
    clearTimeout(timer);
  }

  async #initExited(status: WaitStatus): Promise<void> {
    const ns = nowNs();
    this.#log.info("container init exited", { pid: this.#pid, status });
    const hub = this.#hub!;
    if (!(await hub.drain(EXIT_DRAIN_MS))) {
      this.#log.warn("container output still open after its init exited; cut");
    }
    let oomKilled = false;
    if (this.#oom) {
      try {
        // The last look: a kill counted after the last notification still counts.
        oomKilled = (await this.#oom.refresh()) > 0;
      } catch (err) {
        this.#log.warn("final OOM check failed", { err });
        oomKilled = this.#oom.kills > 0;
      }
      this.#oom.close();
    }
    const info = exitInfoOf(status, ns, oomKilled);
    try {
      writeExitRecord(this.#stateDir, info);
    } catch (err) {
      this.#log.error("cannot write the exit record", { err });
    }
    this.#exit = info;
    if (this.#status !== "deleted") this.#status = "stopped";
    await this.#stdin?.close();
    this.#pty?.close();
    hub.log?.close();
    for (const resolve of this.#exitWaiters.splice(0)) resolve(info);
    for (const s of this.#attached) s.exit({ exitCode: info.exitCode }).catch(() => {});
  }
}
