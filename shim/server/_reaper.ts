/**
 * The shim's child reaper: it is child subreaper, so the container's init and every
 * detached exec'd process become its children once their `runc` parent exits, and so do
 * orphans of a host-PID container. All of them must be reaped, none of the `runc`
 * processes that Deno itself waits for may be.
 *
 * On each SIGCHLD (signals coalesce, so each one triggers a full sweep):
 * - every pid someone waits for is polled with `waitpid(pid, WNOHANG)`;
 * - the children listed in `/proc/self/task/<tid>/children` that are neither waited for
 *   nor `Deno.Command` children started through {@link Reaper.spawn} are orphans: they are
 *   reaped too, and their statuses kept a little while, because a detached exec's pid is
 *   learned from its pid file only after `runc exec` returns, and it may be gone by then.
 *
 * Never `waitpid(-1)`: it would steal the statuses Deno's own child watcher waits for
 * (`Deno.Command` would then fail with ECHILD). conmon-rs's `child_reaper.rs` is the model.
 *
 * @module
 */
import { type Logger, nullLogger } from "../../log/mod.ts";
// Deno serves /proc only to --allow-all: read it through libc (ffi/kernfs.ts).
import * as kernfs from "../../ffi/kernfs.ts";
import { reapPid, sendSignal, setChildSubreaper, type WaitStatus } from "../../ffi/process.ts";

/**
 * Statuses of orphans nobody waited for yet are kept this long for a late
 * {@link Reaper.wait} (a detached exec's pid arrives after `runc exec` returns), and at
 * most this many (a host-PID pod may orphan a burst of processes).
 */
const UNCLAIMED_TTL_MS = 5 * 60_000;
const UNCLAIMED_MAX = 4096;

/** Returned for a waited pid that vanished without us seeing its status. */
export const LOST_STATUS: WaitStatus = { kind: "exited", code: 255 };

/** Reads the pids of this process's children (all threads). */
export type ChildLister = () => number[];

/** Lists children from `/proc/self/task/<tid>/children` (Linux ≥ 4.2, CONFIG_PROC_CHILDREN). */
export function procChildren(): number[] {
  const pids: number[] = [];
  for (const task of kernfs.readDirSync("/proc/self/task")) {
    let text: string;
    try {
      text = kernfs.readTextFileSync(`/proc/self/task/${task.name}/children`);
    } catch {
      continue; // the thread exited meanwhile
    }
    for (const p of text.split(" ")) {
      const n = Number(p);
      if (n > 0) pids.push(n);
    }
  }
  return pids;
}

function processExists(pid: number): boolean {
  try {
    return sendSignal(pid, 0);
  } catch {
    return true; // EPERM: it exists, it is just not ours to signal
  }
}

/** Reaps exactly the children it should. One per shim process. */
export class Reaper {
  readonly #log: Logger;
  readonly #listChildren: ChildLister;
  /** Pids of live `Deno.Command` children: Deno reaps those. */
  readonly #spawned = new Set<number>();
  readonly #waiters = new Map<number, ((s: WaitStatus) => void)[]>();
  readonly #unclaimed = new Map<number, { status: WaitStatus; at: number }>();
  #listening = false;
  readonly #onSignal = () => this.sweep();

  /** Lists children with `listChildren` (tests pass a fake). */
  constructor(opts: { logger?: Logger; listChildren?: ChildLister } = {}) {
    this.#log = opts.logger ?? nullLogger;
    this.#listChildren = opts.listChildren ?? procChildren;
  }

  /** Becomes child subreaper and starts reaping on SIGCHLD. */
  start(): void {
    setChildSubreaper();
    if (!this.#listening) {
      Deno.addSignalListener("SIGCHLD", this.#onSignal);
      this.#listening = true;
    }
    this.sweep();
  }

  /** Stops listening for SIGCHLD. */
  stop(): void {
    if (this.#listening) Deno.removeSignalListener("SIGCHLD", this.#onSignal);
    this.#listening = false;
  }

  /**
   * Spawns `binary` with `Deno.Command` and keeps the sweep's hands off its pid until Deno
   * has collected its status.
   */
  spawn(binary: string, options: Deno.CommandOptions): Deno.ChildProcess {
    const child = new Deno.Command(binary, options).spawn();
    // spawn() returns before any SIGCHLD handler can run (same thread): no window in
    // which a sweep could see this pid untracked.
    const pid = child.pid;
    this.#spawned.add(pid);
    child.status.finally(() => this.#spawned.delete(pid)).catch(() => {});
    return child;
  }

  /** Number of tracked `Deno.Command` children (tests look at it). */
  get spawnedCount(): number {
    return this.#spawned.size;
  }

  /** Resolves with the status of `pid` (a child, or soon to be re-parented to us). */
  wait(pid: number): Promise<WaitStatus> {
    const done = this.#unclaimed.get(pid);
    if (done) {
      this.#unclaimed.delete(pid);
      return Promise.resolve(done.status);
    }
    return new Promise((resolve) => {
      const list = this.#waiters.get(pid);
      if (list) list.push(resolve);
      else this.#waiters.set(pid, [resolve]);
      this.#pollWaited(pid);
    });
  }

  /** Reaps what has exited; runs on every SIGCHLD. */
  sweep(): void {
    for (const pid of [...this.#waiters.keys()]) this.#pollWaited(pid);
    let children: number[];
    try {
      children = this.#listChildren();
    } catch (err) {
      this.#log.warn("cannot list child processes", { err });
      return;
    }
    for (const pid of children) {
      if (this.#spawned.has(pid) || this.#waiters.has(pid)) continue;
      let status: ReturnType<typeof reapPid>;
      try {
        status = reapPid(pid);
      } catch (err) {
        this.#log.warn("cannot reap orphan", { pid, err });
        continue;
      }
      if (status === undefined || status === "not-child") continue;
      this.#log.debug("reaped orphan", { pid, status });
      this.#unclaimed.delete(pid); // a reused pid goes to the back
      this.#unclaimed.set(pid, { status, at: Date.now() });
    }
    this.#expireUnclaimed();
  }

  #expireUnclaimed(): void {
    const old = Date.now() - UNCLAIMED_TTL_MS;
    // Insertion order is age order: stop at the first young entry.
    for (const [pid, e] of this.#unclaimed) {
      if (e.at >= old && this.#unclaimed.size <= UNCLAIMED_MAX) break;
      this.#unclaimed.delete(pid);
    }
  }

  #pollWaited(pid: number): void {
    let status: ReturnType<typeof reapPid>;
    try {
      status = reapPid(pid);
    } catch (err) {
      this.#log.warn("cannot reap process", { pid, err });
      return;
    }
    if (status === undefined) return;
    if (status === "not-child") {
      const kept = this.#unclaimed.get(pid);
      if (kept) {
        this.#unclaimed.delete(pid);
        status = kept.status;
      } else if (processExists(pid)) {
        return; // not re-parented to us yet: the next SIGCHLD will tell
      } else {
        this.#log.warn("waited process vanished without an exit status", { pid });
        status = LOST_STATUS;
      }
    }
    const list = this.#waiters.get(pid) ?? [];
    this.#waiters.delete(pid);
    for (const resolve of list) resolve(status);
  }
}
