/**
 * Shim processes: one state directory per container under `<state>/shims/<id>/` (the shim's
 * socket, pid file, exit record, logs, and `bootstrap.json`: the bundle and runtime
 * settings, for cleanup after an agent restart), a detached `main.ts shim` process with
 * permissions for that container only, and the shim program's one-shot commands for a
 * container no shim serves (`delete`, `list`). containerd's `core/runtime/v2/binary.go`.
 *
 * @module
 */
import {
  alreadyExists,
  internal,
  invalidArgument,
  isNotFound,
  notFound,
  unavailable,
  wrap,
} from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { sendSignal, Signal } from "../../ffi/process.ts";
import { isContainerId, type RuntimeSpec } from "../protocol.ts";
import { atomicWrite } from "../../lib/fs.ts";
import { which } from "../../lib/exec.ts";
import { oneShotArgv, shimArgv, shimEnv } from "./_argv.ts";
import { fromWire } from "./_conn.ts";
import { readShimPid, shimAlive, waitShimGone } from "./_proc.ts";

/** The record of what a shim was started for, in its state dir. */
export const BOOTSTRAP_FILE = "bootstrap.json";
/** A new shim must answer on its socket within this long (Deno's start-up included). */
export const MIN_START_TIMEOUT_MS = 20_000;

/** What shims are started with. */
export interface ShimProcessOptions {
  /** Where state dirs go: `<state>/shims`. */
  stateRoot: string;
  /** Absolute path of `main.ts` (or the bundled shim). */
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
export interface Spawned {
  readonly id: string;
  readonly stateDir: string;
  readonly runtime: RuntimeSpec;
  readonly pid: number;
  readonly status: Promise<unknown>;
  readonly spare: boolean;
  exited(): boolean;
  /**
   * Kills it, has the runtime delete what it may have made, removes its state dir. With
   * `asked` false (it was never asked to create: a spare dropped, or one that exited
   * unused) there is no container to delete, and no one-shot `shim delete` is started.
   */
  undo(log: Logger, asked?: boolean): Promise<void>;
}

/** What `bootstrap.json` holds. */
export interface Bootstrap {
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
function killQuietly(pid: number): void {
  sendSignal(pid, Signal.SIGKILL);
}

/** Starts shim processes, and cleans up after them. */
export class ShimProcesses {
  readonly logger: Logger;
  readonly #o: ShimProcessOptions;
  /** Exit statuses of the shims this agent process spawned (Deno reaps them). */
  readonly #children = new Map<string, Promise<unknown>>();

  /** Shims under `opts.stateRoot`. */
  constructor(opts: ShimProcessOptions) {
    if (!opts.stateRoot.startsWith("/")) throw invalidArgument("shim stateRoot must be absolute");
    if (!opts.entry.startsWith("/")) throw invalidArgument("shim entry must be absolute");
    this.#o = opts;
    this.logger = opts.logger;
  }

  /** The state root. */
  get stateRoot(): string {
    return this.#o.stateRoot;
  }

  /** The state dir of container `id` (which must be a valid id). */
  dir(id: string): string {
    if (!isContainerId(id)) throw invalidArgument(`container id "${id}" is not valid for a shim`);
    return `${this.#o.stateRoot}/${id}`;
  }

  /**
   * Starts the shim process of `id`: state dir, bootstrap record, `deno run main.ts shim` with
   * permissions for `writeDir` (a log directory) only. The returned undo kills it, deletes
   * any runc container it made and removes the state dir.
   */
  async spawn(
    id: string,
    bundle: string,
    rt: RuntimeSpec,
    writeDir: string | undefined,
    bootstrapTimeoutMs?: number,
  ): Promise<Spawned> {
    const stateDir = this.dir(id);
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
      undo: async (log: Logger, asked = true) => {
        // Whatever failed, the runc container goes first (the shim may have half-made it),
        // then the shim and its state dir.
        if (!exited) killQuietly(child.pid);
        // Unref'd, its exit alone would not keep the event loop waiting for it.
        child.ref();
        await child.status.catch(() => {});
        if (asked) {
          await this.#delete(id, runtime).catch((err) =>
            log.warn("cannot delete the runc container after a failed create", { err })
          );
        }
        await this.removeStateDir(id);
      },
    };
  }

  /**
   * After a shim died (or to be sure): kills a shim still running, force-deletes the runc
   * container, removes the state dir. Idempotent.
   */
  async cleanup(id: string, runtime: RuntimeSpec): Promise<void> {
    const stateDir = this.dir(id);
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
      await Deno.remove(this.dir(id), { recursive: true });
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `cannot remove the shim state of container "${id}"`);
    }
  }

  /**
   * Has the shim program force-delete container `id` (`main.ts shim delete`): the agent
   * never runs the runtime itself. A container the runtime does not know is already gone.
   */
  async #delete(id: string, runtime: RuntimeSpec): Promise<void> {
    const stateDir = this.dir(id);
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
