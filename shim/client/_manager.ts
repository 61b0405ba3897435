/**
 * Starting, finding and cleaning up shims: one state directory per container under
 * `<state>/shims/<id>/`, holding the shim's socket, pid file, exit record, logs, and
 * `bootstrap.json` (the bundle and runtime settings, for cleanup after an agent restart).
 *
 * Recovery's assumptions: a state dir without a live shim is garbage once its exit record
 * (if any) has been read; a live shim is identified by pid *and* command line, so a reused
 * pid is never taken for a shim.
 *
 * @module
 */
import {
  alreadyExists,
  deadlineExceeded,
  internal,
  invalidArgument,
  isNotFound,
  isUnavailable,
  notFound,
  unavailable,
  wrap,
} from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { sendSignal, Signal } from "../../ffi/process.ts";
import {
  EXIT_FILE,
  isContainerId,
  parseExitInfo,
  type RuntimeSpec,
  SHIM_LOG_FILE,
  SOCKET_FILE,
} from "../protocol.ts";
import { atomicWrite } from "../../lib/fs.ts";
import { which } from "../../lib/exec.ts";
import { oneShotArgv, shimArgv, shimEnv } from "./_argv.ts";
import { ControlClient, fromWire } from "./_conn.ts";
import { type HandleHost, ShimClient, toExitRecord } from "./_handle.ts";
import { readShimPid, shimAlive, waitShimGone } from "./_proc.ts";
import type { ExitRecord, ShimCreateOptions, ShimHandle } from "./_types.ts";

const BOOTSTRAP_FILE = "bootstrap.json";
/** A new shim must answer on its socket within this long (Deno's start-up included). */
const MIN_START_TIMEOUT_MS = 20_000;

/** What {@link ShimManager} is built from. */
export interface ShimManagerOptions {
  /** Where state dirs go: `<state>/shims`. */
  stateRoot: string;
  /** Absolute path of `main.ts`. */
  entry: string;
  logger: Logger;
  /** The shims' log level (default info). */
  shimLogLevel?: string;
  /** The deno binary (default: the agent's own). */
  denoPath?: string;
  /** V8 flags of the shims (default: the measured set in `_argv.ts`). */
  v8Flags?: string[];
  /** A shim never asked to create exits after this long (default 60 s). */
  bootstrapTimeoutMs?: number;
}

/** A shim process being started (or started) for one container id. */
interface Spawned {
  readonly id: string;
  readonly stateDir: string;
  readonly runtime: RuntimeSpec;
  readonly pid: number;
  readonly status: Promise<unknown>;
  readonly spare: boolean;
  exited(): boolean;
  undo(log: Logger): Promise<void>;
}

/** A spare shim: started ahead, for a container id reserved in advance. */
interface Spare {
  /** The key it is kept under (a pod id, or the node's pool); moves with moveSpare. */
  key: string;
  readonly id: string;
  readonly logDir: string | undefined;
  readonly runtime: RuntimeSpec;
  taken: boolean;
  spawned?: Promise<Spawned | undefined>;
}

interface Bootstrap {
  id: string;
  bundle: string;
  runtime: RuntimeSpec;
}

/** The absolute path of the runtime binary `name` (looked up on PATH, like exec does). */
function runtimeBinary(name: string): string {
  const path = which(name);
  if (!path) throw notFound(`runtime binary "${name}" not found on PATH`);
  return path;
}

/** SIGKILL, ignoring a process that is already gone (through libc: see DEVELOPERS.md). */
function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function killQuietly(pid: number): void {
  sendSignal(pid, Signal.SIGKILL);
}

async function tail(path: string, bytes = 2048): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.slice(-bytes).trim();
  } catch {
    return "";
  }
}

/** Starts shims and finds them again. */
export class ShimManager implements HandleHost {
  readonly logger: Logger;
  readonly #o: ShimManagerOptions;
  /** Exit statuses of the shims this agent process spawned (Deno reaps them). */
  readonly #children = new Map<string, Promise<unknown>>();
  /** Spare shims by key (a pod id), started ahead of the container that will use them. */
  readonly #spares = new Map<string, Spare>();
  /** Spares whose id a caller took, waiting for its create. */
  readonly #claimed = new Map<string, Spare>();
  /** Set by {@link dropSpares}: no spare is started any more. */
  #closing = false;

  /** A manager for shims under `opts.stateRoot`. */
  constructor(opts: ShimManagerOptions) {
    if (!opts.stateRoot.startsWith("/")) throw invalidArgument("shim stateRoot must be absolute");
    if (!opts.entry.startsWith("/")) throw invalidArgument("shim entry must be absolute");
    this.#o = opts;
    this.logger = opts.logger;
  }

  #dir(id: string): string {
    if (!isContainerId(id)) throw invalidArgument(`container id "${id}" is not valid for a shim`);
    return `${this.#o.stateRoot}/${id}`;
  }

  /**
   * Spawns the shim of `o.id` and has it `runc create` the container. On failure nothing is
   * left: no shim, no runc container, no state dir.
   */
  async create(o: ShimCreateOptions): Promise<ShimHandle> {
    if (!o.bundle.startsWith("/")) throw invalidArgument(`bundle "${o.bundle}" must be absolute`);
    if (o.logPath !== undefined && !o.logPath.startsWith("/")) {
      throw invalidArgument(`log path "${o.logPath}" must be absolute`);
    }
    const log = this.logger.with({ containerId: o.id });
    await using undo = new AsyncDisposableStack();
    // A spare started for this id (see prespawn) is used when it can write the log file;
    // otherwise the shim is started now.
    let spawned = await this.#claimSpare(o);
    if (spawned?.exited()) {
      await spawned.undo(log);
      spawned = undefined;
    }
    const sp = spawned ??
      await this.#spawn(o.id, o.bundle, o.runtime, o.logPath ? dirOf(o.logPath) : undefined);
    undo.defer(() => sp.undo(log));
    const { stateDir, runtime } = sp;

    const t0 = performance.now();
    const startBy = Date.now() + Math.max(MIN_START_TIMEOUT_MS, runtime.callTimeoutMs);
    let control: ControlClient | undefined;
    for (let delay = 2; !control; delay = Math.min(delay * 2, 100)) {
      if (sp.exited()) {
        const why = await tail(`${stateDir}/${SHIM_LOG_FILE}`);
        throw unavailable(
          `the shim of container "${o.id}" exited while starting${why ? `: ${why}` : ""}`,
        );
      }
      try {
        control = await ControlClient.open(`${stateDir}/${SOCKET_FILE}`, o.id);
      } catch (err) {
        if (!isUnavailable(err)) throw err;
        if (Date.now() > startBy) {
          throw deadlineExceeded(`the shim of container "${o.id}" did not start listening`, {
            cause: err,
          });
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    undo.defer(() => control!.close());
    const connectedMs = performance.now() - t0;
    if (o.bundleReady) await o.bundleReady;
    const t1 = performance.now();
    const created = await control.call(
      "create",
      {
        bundle: o.bundle,
        runtime,
        ...(o.logPath ? { logPath: o.logPath } : {}),
        tty: o.tty,
        stdin: o.stdin,
        stdinOnce: o.stdinOnce,
      },
      runtime.callTimeoutMs + 5_000,
    );
    const handle = new ShimClient({
      id: o.id,
      stateDir,
      initPid: created.pid,
      control,
      callTimeoutMs: runtime.callTimeoutMs,
      host: this,
    });
    undo.move();
    log.debug("shim created", {
      shimPid: sp.pid,
      initPid: created.pid,
      spare: sp.spare,
      connectMs: Math.round(connectedMs),
      runcCreateMs: Math.round(performance.now() - t1),
    });
    return handle;
  }

  /**
   * Starts a shim in advance for a container that does not exist yet — RunPodSandbox does it
   * for the pod's first container, so CreateContainer does not wait for Deno to start. The
   * container must then be created with `id` (see {@link takeSpare}); the spare may write
   * only `logDir` (the pod's log directory). An unused spare exits by itself after
   * `idleMs`, or is dropped with {@link dropSpare}.
   */
  prespawn(
    key: string,
    o: { id: string; bundle: string; runtime: RuntimeSpec; logDir?: string; idleMs?: number },
  ): void {
    if (this.#closing || this.#spares.has(key)) return;
    const entry: Spare = { key, id: o.id, logDir: o.logDir, runtime: o.runtime, taken: false };
    this.#spares.set(key, entry);
    entry.spawned = this.#spawn(o.id, o.bundle, o.runtime, o.logDir, o.idleMs ?? 30_000).then(
      (sp) => {
        // An unused spare exits at its bootstrap timeout: forget it and clear its state dir.
        void sp.status.then(async () => {
          // Unused, or taken by a CreateContainer that failed before asking for it.
          const idle = this.#spares.get(entry.key) === entry && !entry.taken;
          const unclaimed = this.#claimed.get(o.id) === entry;
          if (!idle && !unclaimed) return;
          if (idle) this.#spares.delete(entry.key);
          if (unclaimed) this.#claimed.delete(o.id);
          await this.removeStateDir(o.id).catch(() => {});
        });
        return sp;
      },
      (err) => {
        if (this.#spares.get(entry.key) === entry) this.#spares.delete(entry.key);
        this.logger.debug("cannot start a spare shim", { key, err });
        return undefined;
      },
    );
  }

  /** The container id reserved by the spare shim of `key`, if one is ready to be used. */
  takeSpare(key: string): string | undefined {
    const entry = this.#spares.get(key);
    if (!entry || entry.taken) return undefined;
    entry.taken = true;
    this.#spares.delete(key);
    this.#claimed.set(entry.id, entry);
    return entry.id;
  }

  /**
   * Hands the spare of `from` (the node's pool) to `to` (a pod) when it may write the pod's
   * log directory `logDir` (or the pod has none): the pod gets a shim that is already
   * running, and the pool is refilled by the caller. False when there is none to hand over.
   */
  moveSpare(from: string, to: string, logDir: string | undefined): boolean {
    const entry = this.#spares.get(from);
    if (!entry || entry.taken || this.#spares.has(to)) return false;
    if (
      logDir !== undefined &&
      (entry.logDir === undefined || !`${logDir}/`.startsWith(`${entry.logDir}/`))
    ) {
      return false;
    }
    this.#spares.delete(from);
    entry.key = to;
    this.#spares.set(to, entry);
    return true;
  }

  /**
   * Stops every spare not yet taken, and starts no more: the agent is shutting down. Spares
   * carry no container, so unlike the containers' shims they should not outlive the agent
   * (a pool spare would otherwise idle for a day); one killed with the agent is an orphan
   * that the next start's recovery removes.
   */
  async dropSpares(): Promise<void> {
    this.#closing = true;
    const keys = [...this.#spares.keys()];
    await Promise.all(keys.map((k) => this.dropSpare(k)));
  }

  /** Stops the spare shim of `key`, if any (its pod is gone). */
  async dropSpare(key: string): Promise<void> {
    const entry = this.#spares.get(key);
    if (!entry) return;
    this.#spares.delete(key);
    const sp = await entry.spawned;
    await sp?.undo(this.logger).catch(() => {});
  }

  /** The spare process reserved for `o.id`, if it can serve this create. */
  async #claimSpare(o: ShimCreateOptions): Promise<Spawned | undefined> {
    const entry = this.#claimed.get(o.id);
    if (!entry) return undefined;
    this.#claimed.delete(o.id);
    const sp = await entry.spawned;
    if (!sp) return undefined;
    const fits = !o.logPath ||
      (entry.logDir !== undefined && o.logPath.startsWith(`${entry.logDir}/`));
    const same = entry.runtime.binary === o.runtime.binary && entry.runtime.root === o.runtime.root;
    if (fits && same) return { ...sp, spare: true };
    await sp.undo(this.logger);
    return undefined;
  }

  /**
   * Starts the shim process of `id`: state dir, bootstrap record, `deno run main.ts shim` with
   * permissions for `writeDir` (a log directory) only. The returned undo kills it, deletes
   * any runc container it made and removes the state dir.
   */
  async #spawn(
    id: string,
    bundle: string,
    rt: RuntimeSpec,
    writeDir: string | undefined,
    bootstrapTimeoutMs?: number,
  ): Promise<Spawned> {
    const stateDir = this.#dir(id);
    const runtime: RuntimeSpec = { ...rt, binary: runtimeBinary(rt.binary) };
    // Root's only, as every per-container directory (runtime/modes.ts).
    await Deno.mkdir(this.#o.stateRoot, { recursive: true, mode: 0o700 });
    try {
      await Deno.mkdir(stateDir, { mode: 0o700 });
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        throw alreadyExists(`a shim state directory for container "${id}" already exists`);
      }
      throw wrap(err, `cannot create shim state directory ${stateDir}`);
    }
    try {
      const bootstrap: Bootstrap = { id, bundle, runtime };
      await atomicWrite(`${stateDir}/${BOOTSTRAP_FILE}`, JSON.stringify(bootstrap) + "\n");
    } catch (err) {
      await this.removeStateDir(id);
      throw wrap(err, `cannot write the bootstrap record of container "${id}"`);
    }
    const timeout = bootstrapTimeoutMs ?? this.#o.bootstrapTimeoutMs;
    const child = new Deno.Command(this.#o.denoPath ?? Deno.execPath(), {
      args: shimArgv({
        entry: this.#o.entry,
        id,
        stateDir,
        runtimeBinary: runtime.binary,
        ...(writeDir ? { logDir: writeDir } : {}),
        ...(this.#o.shimLogLevel ? { logLevel: this.#o.shimLogLevel } : {}),
        ...(this.#o.v8Flags ? { v8Flags: this.#o.v8Flags } : {}),
        ...(timeout ? { bootstrapTimeoutMs: timeout } : {}),
      }),
      cwd: "/",
      clearEnv: true,
      env: shimEnv(),
      stdin: "null",
      stdout: "null",
      stderr: "null",
      // Its own session: the shim outlives the agent, whatever kills the agent.
      detached: true,
    }).spawn();
    child.unref();
    let exited = false;
    const status = child.status.then(() => {
      exited = true;
    }).catch(() => {}).finally(() => {
      if (this.#children.get(id) === status) this.#children.delete(id);
    });
    this.#children.set(id, status);
    return {
      id,
      stateDir,
      runtime,
      pid: child.pid,
      status,
      spare: false,
      exited: () => exited,
      undo: async (log: Logger) => {
        // Whatever failed, the runc container goes first (the shim may have half-made it),
        // then the shim and its state dir.
        if (!exited) killQuietly(child.pid);
        // Unref'd, its exit alone would not keep the event loop waiting for it.
        child.ref();
        await child.status.catch(() => {});
        await this.#delete(id, runtime).catch((err) =>
          log.warn("cannot delete the runc container after a failed create", { err })
        );
        await this.removeStateDir(id);
      },
    };
  }

  /**
   * Reconnects to the live shim of `id` (after an agent restart). `undefined` when none
   * runs; then {@link lastExit} tells how the container ended.
   */
  async reconnect(id: string): Promise<ShimHandle | undefined> {
    const stateDir = this.#dir(id);
    const pid = readShimPid(stateDir);
    if (pid === undefined || !shimAlive(pid, id)) return undefined;
    const control = await ControlClient.open(`${stateDir}/${SOCKET_FILE}`, id);
    try {
      const state = await control.call("state", {}, 10_000);
      const runtime = await this.bootstrapRuntime(id);
      return new ShimClient({
        id,
        stateDir,
        initPid: state.pid,
        control,
        callTimeoutMs: runtime?.callTimeoutMs ?? 60_000,
        host: this,
      });
    } catch (err) {
      control.close();
      throw err;
    }
  }

  /** Ids of the state dirs present (live shims or their leftovers). */
  async ids(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#o.stateRoot)) {
        if (e.isDirectory && isContainerId(e.name)) out.push(e.name);
      }
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `cannot list ${this.#o.stateRoot}`);
    }
    return out.sort();
  }

  /** The exit record the shim of `id` wrote, if any. */
  async lastExit(id: string): Promise<ExitRecord | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${this.#dir(id)}/${EXIT_FILE}`);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrap(err, `cannot read the exit record of container "${id}"`);
    }
    try {
      return toExitRecord(parseExitInfo(JSON.parse(text)));
    } catch (err) {
      throw internal(`exit record of container "${id}" is corrupt`, { cause: err });
    }
  }

  /** The runtime settings the shim of `id` was created with. */
  async bootstrapRuntime(id: string): Promise<RuntimeSpec | undefined> {
    try {
      const b = JSON.parse(
        await Deno.readTextFile(`${this.#dir(id)}/${BOOTSTRAP_FILE}`),
      ) as Partial<Bootstrap>;
      return b.runtime;
    } catch {
      return undefined;
    }
  }

  /**
   * After a shim died (or to be sure): kills a shim still running, force-deletes the runc
   * container, removes the state dir. Idempotent.
   */
  async cleanup(id: string, runtime: RuntimeSpec): Promise<void> {
    const stateDir = this.#dir(id);
    const pid = readShimPid(stateDir);
    if (pid !== undefined && shimAlive(pid, id)) {
      killQuietly(pid);
      if (!(await waitShimGone(pid, id, 10_000))) {
        throw unavailable(`the shim of container "${id}" (pid ${pid}) survived SIGKILL`);
      }
    }
    await this.reaped(id);
    await this.#delete(id, { ...runtime, binary: runtimeBinary(runtime.binary) });
    await this.removeStateDir(id);
  }

  /**
   * Resolves once a shim of `id` spawned by this process has been reaped (at most 5 s), so
   * no exit status is left pending.
   */
  async reaped(id: string): Promise<void> {
    const status = this.#children.get(id);
    if (!status) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([status, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
  }

  /** Removes the state dir of `id`. */
  async removeStateDir(id: string): Promise<void> {
    try {
      await Deno.remove(this.#dir(id), { recursive: true });
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `cannot remove the shim state of container "${id}"`);
    }
  }

  /**
   * Has the shim program force-delete container `id` (`main.ts shim delete`): the agent
   * never runs the runtime itself. A container the runtime does not know is already gone.
   */
  async #delete(id: string, runtime: RuntimeSpec): Promise<void> {
    const stateDir = this.#dir(id);
    await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await this.#oneShot(
      oneShotArgv({ entry: this.#o.entry, op: "delete", id, stateDir, runtime }),
      runtime,
      `delete container "${id}"`,
    );
  }

  /** The ids of the containers the runtime knows under `runtime.root` (`main.ts shim list`). */
  async runtimeIds(runtime: RuntimeSpec): Promise<string[]> {
    const rt = { ...runtime, binary: runtimeBinary(runtime.binary) };
    const out = await this.#oneShot(
      oneShotArgv({ entry: this.#o.entry, op: "list", runtime: rt }),
      rt,
      "list the runtime's containers",
    );
    return out.split("\n").map((s) => s.trim()).filter(isContainerId);
  }

  /** Runs one shim command; its stdout, or its error (one JSON line on stderr). */
  async #oneShot(args: string[], runtime: RuntimeSpec, what: string): Promise<string> {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(this.#o.denoPath ?? Deno.execPath(), {
        args,
        cwd: "/",
        clearEnv: true,
        env: shimEnv(),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(MIN_START_TIMEOUT_MS + runtime.callTimeoutMs),
      }).output();
    } catch (err) {
      throw wrap(err, `cannot ${what}`);
    }
    if (out.success) return new TextDecoder().decode(out.stdout);
    const text = new TextDecoder().decode(out.stderr).trim();
    let wire: unknown;
    try {
      wire = JSON.parse(text.split("\n").at(-1) ?? "");
    } catch {
      // not the command's own report (Deno failed to start it)
      throw internal(`cannot ${what}: ${text || `exit ${out.code}`}`);
    }
    throw wrap(fromWire(wire), `cannot ${what}`);
  }
}
