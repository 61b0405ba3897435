/**
 * The agent's shim client as one object (what the runtime's `ShimPort` asks for): it creates
 * a container's shim — a spare claimed for its id, else a new process — connects to it and
 * has it `runc create`; the rest is spawning and cleanup (`_spawn.ts`), spares
 * (`_spares.ts`) and recovery (`_recover.ts`).
 *
 * @module
 */
import { deadlineExceeded, invalidArgument, isUnavailable, unavailable } from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { type RuntimeSpec, SHIM_LOG_FILE, SOCKET_FILE } from "../protocol.ts";
import { ControlClient } from "./_conn.ts";
import { type HandleHost, ShimClient } from "./_handle.ts";
import { MIN_START_TIMEOUT_MS, ShimProcesses, type ShimProcessOptions } from "./_spawn.ts";
import { SparePool } from "./_spares.ts";
import { bootstrapRuntime, lastExit, reconnect, shimIds } from "./_recover.ts";
import type { ExitRecord, ShimCreateOptions, ShimHandle } from "./_types.ts";

/** What {@link ShimManager} is built from. */
export type ShimManagerOptions = ShimProcessOptions;

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
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
  readonly #procs: ShimProcesses;
  readonly #spares: SparePool;

  /** A manager for shims under `opts.stateRoot`. */
  constructor(opts: ShimManagerOptions) {
    this.#procs = new ShimProcesses(opts);
    this.#spares = new SparePool(this.#procs);
    this.logger = opts.logger;
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
    let spawned = await this.#spares.claim(o);
    if (spawned?.exited()) {
      await spawned.undo(log, false);
      spawned = undefined;
    }
    const t0 = performance.now();
    const sp = spawned ??
      await this.#procs.spawn(o.id, o.bundle, o.runtime, o.logPath ? dirOf(o.logPath) : undefined);
    // Until "create" is asked, the shim cannot have made a container to delete.
    let asked = false;
    undo.defer(() => sp.undo(log, asked));
    const { stateDir, runtime } = sp;

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
    const bundleWaitMs = t1 - t0 - connectedMs;
    asked = true;
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
      createTimings: {
        spare: sp.spare,
        shimConnectMs: round1(connectedMs),
        bundleWaitMs: round1(bundleWaitMs),
        runcCreateMs: round1(performance.now() - t1),
      },
    });
    undo.move();
    log.debug("shim created", { shimPid: sp.pid, initPid: created.pid });
    return handle;
  }

  /** See {@link SparePool.prespawn}. */
  prespawn(
    key: string,
    o: { id: string; bundle: string; runtime: RuntimeSpec; logDir?: string; idleMs?: number },
  ): void {
    this.#spares.prespawn(key, o);
  }

  /** See {@link SparePool.takeSpare}. */
  takeSpare(key: string): string | undefined {
    return this.#spares.takeSpare(key);
  }

  /** See {@link SparePool.moveSpare}. */
  moveSpare(from: string, to: string, logDir: string | undefined): boolean {
    return this.#spares.moveSpare(from, to, logDir);
  }

  /** See {@link SparePool.dropSpares}. */
  dropSpares(): Promise<void> {
    return this.#spares.dropSpares();
  }

  /** See {@link SparePool.dropSpare}. */
  dropSpare(key: string): Promise<void> {
    return this.#spares.dropSpare(key);
  }

  /** The live shim of `id` after an agent restart (see `_recover.ts`). */
  reconnect(id: string): Promise<ShimHandle | undefined> {
    return reconnect(this.#procs, this, id);
  }

  /** Ids of the state dirs present (live shims or their leftovers). */
  ids(): Promise<string[]> {
    return shimIds(this.#procs);
  }

  /** The exit record the shim of `id` wrote, if any. */
  lastExit(id: string): Promise<ExitRecord | undefined> {
    return lastExit(this.#procs, id);
  }

  /** The runtime settings the shim of `id` was created with. */
  bootstrapRuntime(id: string): Promise<RuntimeSpec | undefined> {
    return bootstrapRuntime(this.#procs, id);
  }

  /** See {@link ShimProcesses.cleanup}. */
  cleanup(id: string, runtime: RuntimeSpec): Promise<void> {
    return this.#procs.cleanup(id, runtime);
  }

  /** See {@link ShimProcesses.reaped}. */
  reaped(id: string): Promise<void> {
    return this.#procs.reaped(id);
  }

  /** See {@link ShimProcesses.removeStateDir}. */
  removeStateDir(id: string): Promise<void> {
    return this.#procs.removeStateDir(id);
  }

  /** See {@link ShimProcesses.runtimeIds}. */
  runtimeIds(runtime: RuntimeSpec): Promise<string[]> {
    return this.#procs.runtimeIds(runtime);
  }
}
