/**
 * The agent's handle on one shim: control calls, exec and attach connections, and the
 * detection of a shim that died.
 *
 * A shim is dead when its control connection ends and its process is gone (checked by pid
 * and command line). Then {@link ShimClient.wait} resolves with the exit record the shim
 * left, if the container had exited before, or with exit code 255 and a `reason`. A
 * connection that ends while the shim still runs is re-dialled.
 *
 * @module
 */
import { failedPrecondition, isUnavailable, unavailable } from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { nowNs } from "../../lib/clock.ts";
import type { Calls, ExitInfo, Op, StateInfo } from "../protocol.ts";
import { SOCKET_FILE } from "../protocol.ts";
import { ControlClient, dial } from "./_conn.ts";
import { shimAlive, waitShimGone } from "./_proc.ts";
import { collectExecSync, frameSession } from "./_session.ts";
import type {
  CreateTimings,
  ExecOptions,
  ExecSyncOptions,
  ExecSyncResult,
  ExitRecord,
  RuntimeSpec,
  ShimHandle,
  ShimState,
  StdioSession,
  TerminalSize,
} from "./_types.ts";

/** Default cap of each of ExecSync's stdout and stderr (the CRI's 16 MiB). */
export const DEFAULT_EXEC_OUTPUT_LIMIT = 16 << 20;
/** Calls that do not run the runtime answer within this long, or the shim is stuck. */
const QUICK_CALL_MS = 10_000;
/** Margin on top of the runtime's own deadline for calls that run it. */
const RUNTIME_CALL_MARGIN_MS = 5_000;

/** Reason given when the shim died before the container's exit was recorded. */
export const SHIM_DIED = "shim exited unexpectedly";

/** ExitInfo (wire) → ExitRecord (agent). */
export function toExitRecord(e: ExitInfo): ExitRecord {
  const r: ExitRecord = {
    exitCode: e.exitCode,
    exitedAtNs: BigInt(e.exitedAtNs),
    oomKilled: e.oomKilled,
  };
  if (e.signal !== undefined) r.signal = e.signal;
  return r;
}

/** What a handle needs from its manager. */
export interface HandleHost {
  readonly logger: Logger;
  /** The exit record a shim left in its state dir. */
  lastExit(id: string): Promise<ExitRecord | undefined>;
  /** Stops and removes what a dead shim left (runc container, state dir). */
  cleanup(id: string, runtime: RuntimeSpec): Promise<void>;
  /** Resolves once a shim this agent spawned has been reaped. */
  reaped(id: string): Promise<void>;
  /** Removes a state dir whose shim is gone. */
  removeStateDir(id: string): Promise<void>;
  /** The runtime settings recorded at create. */
  bootstrapRuntime(id: string): Promise<RuntimeSpec | undefined>;
}

/** A {@link ShimHandle} over a control connection. */
export class ShimClient implements ShimHandle {
  readonly id: string;
  readonly initPid: number;
  readonly shimPid: number;
  readonly createTimings?: CreateTimings;
  readonly #stateDir: string;
  readonly #host: HandleHost;
  readonly #log: Logger;
  readonly #callTimeoutMs: number;
  #control: ControlClient | undefined;
  #redial: Promise<ControlClient | undefined> | undefined;
  #exit: Promise<ExitRecord> | undefined;
  #settleExit: ((r: ExitRecord) => void) | undefined;
  #exitRecord: ExitRecord | undefined;
  #dead = false;
  #deleting = false;
  #closed = false;

  /** Wraps an open control connection (see `ShimManager`). */
  constructor(init: {
    id: string;
    stateDir: string;
    initPid: number;
    control: ControlClient;
    callTimeoutMs: number;
    host: HandleHost;
    createTimings?: CreateTimings;
  }) {
    this.id = init.id;
    if (init.createTimings) this.createTimings = init.createTimings;
    this.initPid = init.initPid;
    this.shimPid = init.control.shimPid;
    this.#stateDir = init.stateDir;
    this.#host = init.host;
    this.#log = init.host.logger.with({ containerId: init.id, shimPid: this.shimPid });
    this.#callTimeoutMs = init.callTimeoutMs;
    this.#adopt(init.control);
  }

  #adopt(c: ControlClient): void {
    this.#control = c;
    c.closed.then(() => this.#disconnected(c));
  }

  get #socket(): string {
    return `${this.#stateDir}/${SOCKET_FILE}`;
  }

  async #disconnected(c: ControlClient): Promise<void> {
    if (this.#control !== c) return;
    this.#control = undefined;
    if (c.closedByUs || this.#closed || this.#deleting) return;
    if (this.#exit) {
      // Someone waits for the exit: find out now whether the shim is gone or only the
      // connection broke.
      const again = await this.#connection().catch(() => undefined);
      if (again) this.#issueWait(again);
    }
  }

  /**
   * The control connection, re-dialled when it broke while the shim lives. Marks the shim
   * dead (and settles the exit) when its process is gone.
   */
  #connection(): Promise<ControlClient | undefined> {
    if (this.#dead) return Promise.resolve(undefined);
    if (this.#control && !this.#control.ended) return Promise.resolve(this.#control);
    this.#redial ??= (async () => {
      try {
        for (let delay = 20;; delay = Math.min(delay * 2, 500)) {
          // A shim on its way out may still show in /proc for a moment.
          if (!shimAlive(this.shimPid, this.id) || this.#closed) break;
          try {
            const c = await ControlClient.open(this.#socket, this.id);
            this.#adopt(c);
            this.#log.info("reconnected to the shim");
            return c;
          } catch (err) {
            if (!isUnavailable(err)) throw err;
          }
          await new Promise((r) => setTimeout(r, delay));
        }
        await this.#died();
        return undefined;
      } finally {
        this.#redial = undefined;
      }
    })();
    return this.#redial;
  }

  async #died(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    const recorded = await this.#host.lastExit(this.id).catch(() => undefined);
    const record = recorded ?? {
      exitCode: 255,
      exitedAtNs: nowNs(),
      oomKilled: false,
      reason: SHIM_DIED,
    };
    if (!recorded) this.#log.warn("the shim died before its container's exit was recorded");
    this.#settle(record);
  }

  #settle(r: ExitRecord): void {
    this.#exitRecord ??= r;
    this.#settleExit?.(this.#exitRecord);
  }

  async #call<O extends Op>(
    op: O,
    params: Calls[O]["params"],
    timeoutMs?: number,
  ): Promise<Calls[O]["result"]> {
    if (this.#closed) throw failedPrecondition(`handle of container "${this.id}" is closed`);
    const c = await this.#connection();
    if (!c) throw unavailable(`the shim of container "${this.id}" is gone`);
    return await c.call(op, params, timeoutMs);
  }

  #runtimeTimeout(): number {
    return this.#callTimeoutMs + RUNTIME_CALL_MARGIN_MS;
  }

  async start(): Promise<{ startedAtNs: bigint }> {
    const t0 = nowNs();
    const r = await this.#call("start", {}, this.#runtimeTimeout());
    return { startedAtNs: r.startedAtNs ? BigInt(r.startedAtNs) : t0 };
  }

  async kill(signal: number, all = false): Promise<void> {
    await this.#call("kill", { signal, all }, this.#runtimeTimeout());
  }

  async state(): Promise<ShimState> {
    if (this.#dead) {
      const exit = this.#exitRecord ?? await this.wait();
      return { status: "stopped", pid: this.initPid, exit };
    }
    let s: StateInfo;
    try {
      s = await this.#call("state", {}, QUICK_CALL_MS);
    } catch (err) {
      if (this.#dead) return this.state();
      throw err;
    }
    return s.exit
      ? { status: s.status, pid: s.pid, exit: toExitRecord(s.exit) }
      : { status: s.status, pid: s.pid };
  }

  wait(): Promise<ExitRecord> {
    if (!this.#exit) {
      this.#exit = new Promise<ExitRecord>((resolve) => {
        this.#settleExit = resolve;
        if (this.#exitRecord) resolve(this.#exitRecord);
      });
      this.#connection().then((c) => c && this.#issueWait(c)).catch((err) =>
        this.#log.warn("cannot wait for the container", { err })
      );
    }
    return this.#exit;
  }

  #issueWait(c: ControlClient): void {
    c.call("wait", {}).then((e) => this.#settle(toExitRecord(e))).catch((err) => {
      // A broken connection is handled by #disconnected; anything else is logged.
      if (!isUnavailable(err)) this.#log.warn("wait failed", { err });
    });
  }

  async execSync(opts: ExecSyncOptions): Promise<ExecSyncResult> {
    const limit = opts.outputLimit ?? DEFAULT_EXEC_OUTPUT_LIMIT;
    const d = await dial(this.#socket, this.id, {
      kind: "exec",
      exec: {
        args: opts.args,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        tty: opts.tty ?? false,
        stdin: false,
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
        outputLimit: limit,
      },
    });
    return await collectExecSync(
      d,
      `exec ${JSON.stringify(opts.args)} in container "${this.id}"`,
      limit,
      opts.signal,
    );
  }

  async exec(opts: ExecOptions): Promise<StdioSession> {
    const d = await dial(this.#socket, this.id, {
      kind: "exec",
      exec: {
        args: opts.args,
        ...(opts.env ? { env: opts.env } : {}),
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        tty: opts.tty,
        stdin: opts.stdin,
      },
    });
    return frameSession(d, `exec ${JSON.stringify(opts.args)} in container "${this.id}"`, {
      stdin: opts.stdin,
      stdout: true,
      stderr: !opts.tty,
    });
  }

  async attach(opts: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<StdioSession> {
    const d = await dial(this.#socket, this.id, { kind: "attach", ...opts });
    return frameSession(d, `attach to container "${this.id}"`, opts);
  }

  async resize(size: TerminalSize): Promise<void> {
    await this.#call("resize", { width: size.width, height: size.height }, QUICK_CALL_MS);
  }

  async reopenLog(): Promise<void> {
    await this.#call("reopenLog", {}, QUICK_CALL_MS);
  }

  async update(resources: unknown): Promise<void> {
    await this.#call("update", { resources }, this.#runtimeTimeout());
  }

  async delete(): Promise<void> {
    this.#deleting = true;
    try {
      let result: Calls["delete"]["result"] | undefined;
      try {
        result = await this.#call("delete", {}, this.#runtimeTimeout());
      } catch (err) {
        if (!isUnavailable(err) || shimAlive(this.shimPid, this.id)) throw err;
      }
      if (result) {
        if (result.exit) this.#settle(toExitRecord(result.exit));
        if (!(await waitShimGone(this.shimPid, this.id, QUICK_CALL_MS))) {
          throw unavailable(`the shim of container "${this.id}" did not exit after delete`);
        }
        await this.#host.reaped(this.id);
        await this.#host.removeStateDir(this.id);
      } else {
        // The shim is gone: do its part (kill and delete the runc container) ourselves.
        const runtime = await this.#host.bootstrapRuntime(this.id);
        if (!runtime) {
          throw unavailable(
            `the shim of container "${this.id}" is gone and its runtime settings are lost`,
          );
        }
        await this.#host.cleanup(this.id, runtime);
        await this.#died();
      }
      this.#closed = true;
      this.#control?.close();
    } finally {
      this.#deleting = false;
    }
  }

  close(): void {
    this.#closed = true;
    this.#control?.close();
  }
}
