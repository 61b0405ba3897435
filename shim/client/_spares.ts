/**
 * Spare shims: started ahead of the container that will use them, for a container id
 * reserved in advance, so that CreateContainer does not wait for a Deno process to start
 * (≈ 30 ms, most of its latency). When to start one is the runtime's policy
 * (`runtime/spare_shims.ts`); this is the mechanism: the spares by key (a pod id, or the
 * node's pool), handing one to a pod, claiming it at create, dropping it.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type { RuntimeSpec } from "../protocol.ts";
import type { ShimProcesses, Spawned } from "./_spawn.ts";
import type { ShimCreateOptions } from "./_types.ts";

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

/** The spare shims of one agent. */
export class SparePool {
  readonly logger: Logger;
  readonly #procs: ShimProcesses;
  /** Spare shims by key (a pod id), started ahead of the container that will use them. */
  readonly #spares = new Map<string, Spare>();
  /** Spares whose id a caller took, waiting for its create. */
  readonly #claimed = new Map<string, Spare>();
  /** Set by {@link dropSpares}: no spare is started any more. */
  #closing = false;

  /** Spares started or being started and not yet given to a container (the agent's metrics). */
  get count(): number {
    return this.#spares.size + this.#claimed.size;
  }

  /** Spares started through `procs`. */
  constructor(procs: ShimProcesses) {
    this.#procs = procs;
    this.logger = procs.logger;
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
    entry.spawned = this.#procs.spawn(o.id, o.bundle, o.runtime, o.logDir, o.idleMs ?? 30_000).then(
      (sp) => {
        // An unused spare exits at its bootstrap timeout: forget it and clear its state dir.
        void sp.status.then(async () => {
          // Unused, or taken by a CreateContainer that failed before asking for it.
          const idle = this.#spares.get(entry.key) === entry && !entry.taken;
          const unclaimed = this.#claimed.get(o.id) === entry;
          if (!idle && !unclaimed) return;
          if (idle) this.#spares.delete(entry.key);
          if (unclaimed) this.#claimed.delete(o.id);
          await this.#procs.removeStateDir(o.id).catch(() => {});
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
    // A spare is never asked to create before it is claimed: no container to delete.
    await sp?.undo(this.logger, false).catch(() => {});
  }

  /** The spare process reserved for `o.id`, if it can serve this create. */
  async claim(o: ShimCreateOptions): Promise<Spawned | undefined> {
    const entry = this.#claimed.get(o.id);
    if (!entry) return undefined;
    this.#claimed.delete(o.id);
    const sp = await entry.spawned;
    if (!sp) return undefined;
    const fits = !o.logPath ||
      (entry.logDir !== undefined && o.logPath.startsWith(`${entry.logDir}/`));
    const same = entry.runtime.binary === o.runtime.binary &&
      entry.runtime.root === o.runtime.root &&
      JSON.stringify(entry.runtime.options ?? []) === JSON.stringify(o.runtime.options ?? []);
    if (fits && same) return { ...sp, spare: true };
    await sp.undo(this.logger, false);
    return undefined;
  }
}
