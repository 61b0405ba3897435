/**
 * OOM-kill detection for one container's memory cgroup, run inside the shim.
 *
 * The count comes from the kernel's `oom_kill` counter of the cgroup the process is in:
 * v2 `memory.events` (not `oom`, which counts OOM *situations*: containerd#6323), v1
 * `memory.oom_control` (Linux ≥ 4.13). The counter is watched, not polled:
 *
 * - v2: inotify `IN_MODIFY` on `memory.events`; the kernel raises it after bumping the
 *   counter (`memcg_memory_event` → `cgroup_file_notify`).
 * - v1: an eventfd registered through `cgroup.event_control` with an fd of
 *   `memory.oom_control` (cgroup-v1/memory.rst §10). The kernel signals it when the
 *   cgroup (or an ancestor) goes under OOM — *before* the victim is killed — and again
 *   when the cgroup is removed, so a wake only means "look again": the counter decides,
 *   re-read a few times shortly after a wake.
 *
 * A cgroup can vanish right after the kill (systemd garbage-collects an empty scope): the
 * count read so far is kept, and on v2 an event we could not read in time is recovered
 * from the hierarchical `oom_kill` of the nearest ancestor that is still there (as
 * conmon-rs watches the parent). Not just the parent: crun puts the process in a
 * `container` sub-cgroup of its systemd scope, and systemd removes the scope with it, so
 * the first survivor is the pod slice (measured in the node-vm guest: the parent-only
 * fallback reported crun's OOM kills as `Error`). kernfs does
 * not report a watched cgroup's removal to inotify (no IN_IGNORED after rmdir, measured on
 * Linux 6.18), so a v2 watch learns it from a failed read: call {@link OomWatcher.refresh}
 * once the container has exited. The wait
 * runs `poll(2)` on a worker thread with a wake-up eventfd, so {@link OomWatcher.close}
 * ends it at once.
 *
 * Lean on purpose (the shim imports it): Deno APIs and `ffi/` only.
 *
 * @module
 */
import { failedPrecondition, isNotFound, notFound, wrap } from "../errors/mod.ts";
import {
  closeFd,
  createEventfd,
  openFd,
  readEventfd,
  signalEventfd,
  waitReadable,
} from "../ffi/eventfd.ts";
import {
  IN_DELETE_SELF,
  IN_IGNORED,
  IN_MODIFY,
  IN_Q_OVERFLOW,
  inotifyAddWatch,
  inotifyInit,
  readInotifyEvents,
} from "../ffi/inotify.ts";
// Deno grants /proc and cgroupfs only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import {
  type CgroupVersion,
  detectLayout,
  mountFor,
  parseProcCgroup,
  processControllerDir,
} from "./layout.ts";
import { parseFlatKeyed } from "./parse.ts";

/** Counts OOM kills in one memory cgroup from the moment the watch started. */
export interface OomWatcher {
  /** OOM kills seen since the watch started. Survives the cgroup's removal. */
  readonly kills: number;
  /** Calls `cb` with the new {@link kills} each time it grows. */
  onKill(cb: (count: number) => void): void;
  /** Reads the counter now (e.g. after the container exited); resolves to {@link kills}. */
  refresh(): Promise<number>;
  /** Stops watching and releases the fds; {@link kills} stays readable. */
  close(): void;
}

/** Options of {@link watchOom}. */
export interface WatchOomOptions {
  /** Where `<pid>/cgroup` is read; default `/proc`. */
  procRoot?: string;
  /** The mountinfo file giving the cgroup layout; default `/proc/self/mountinfo`. */
  mountinfo?: string;
  /** Receives the watcher's own failures (a callback that threw, a broken fd). */
  logger?: Logger;
}

/** After a v1 wake, the kill may not be counted yet: look again after these delays (ms). */
const V1_RECHECK_MS = [10, 50, 250, 1000, 3000];

/** The watcher returned by {@link watchOom}. */
export class CgroupOomWatcher implements OomWatcher {
  /** The cgroup version watched. */
  readonly version: CgroupVersion;
  /** The memory cgroup directory watched. */
  readonly dir: string;
  /** Resolves once the watch has stopped and released its fds (tests await it). */
  readonly closed: Promise<void>;

  readonly #file: string;
  /** `memory.events` of each ancestor below the root, nearest first, with the count seen. */
  readonly #ancestors: Ancestor[];
  readonly #source: number;
  readonly #wake: number;
  readonly #log: Logger;
  readonly #callbacks: ((count: number) => void)[] = [];
  /** Kernels before 4.13 have no v1 `oom_kill`: then each wake with the cgroup alive counts. */
  readonly #countWakes: boolean;
  #kills = 0;
  #last: bigint;
  /** v2: a modification announced but not yet read. */
  #pending = false;
  #state: "watching" | "gone" | "closed" = "watching";
  #released = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Use {@link watchOom}; the fds passed here become the watcher's to close. */
  constructor(init: {
    version: CgroupVersion;
    dir: string;
    source: number;
    wake: number;
    baseline: bigint | undefined;
    /** v2: the ancestors' `memory.events` and their counts, nearest first. */
    ancestors: readonly Ancestor[];
    logger: Logger;
  }) {
    this.version = init.version;
    this.dir = init.dir;
    this.#file = `${init.dir}/${init.version === 1 ? "memory.oom_control" : "memory.events"}`;
    this.#source = init.source;
    this.#wake = init.wake;
    this.#countWakes = init.version === 1 && init.baseline === undefined;
    this.#last = init.baseline ?? 0n;
    this.#ancestors = init.ancestors.map((a) => ({ ...a }));
    this.#log = init.logger;
    this.closed = this.#run();
  }

  /** OOM kills since the watch started. */
  get kills(): number {
    return this.#kills;
  }

  /** Calls `cb(kills)` on every increase. */
  onKill(cb: (count: number) => void): void {
    this.#callbacks.push(cb);
  }

  /**
   * Takes in whatever the kernel announced and reads the counter now. Meant for the
   * shim's last look after the container exits; never throws for a vanished cgroup.
   */
  refresh(): Promise<number> {
    if (this.#state === "gone") return Promise.resolve(this.#kills);
    let woken = false;
    try {
      if (!this.#released) woken = this.#drain();
    } catch (err) {
      this.#log.warn("OOM watch: cannot drain notifications", { dir: this.dir, err });
    }
    this.#check(woken);
    return Promise.resolve(this.#kills);
  }

  /** Stops the watch; the worker-thread wait ends and the fds are released. */
  close(): void {
    if (this.#state === "closed") return;
    const wasWatching = this.#state === "watching";
    this.#state = "closed";
    this.#stopTimer();
    if (wasWatching && !this.#released) signalEventfd(this.#wake);
  }

  async #run(): Promise<void> {
    try {
      while (this.#state === "watching") {
        const ready = await waitReadable([this.#source, this.#wake]);
        if (this.#state !== "watching") break;
        if (ready.includes(this.#source) && this.#drain()) this.#check(true);
      }
    } catch (err) {
      this.#log.warn("OOM watch stopped on an error", { dir: this.dir, err });
    } finally {
      this.#release();
    }
  }

  /** Consumes queued notifications; true when one may concern the counter. */
  #drain(): boolean {
    if (this.version === 1) return readEventfd(this.#source) > 0n;
    let relevant = false;
    for (const e of readInotifyEvents(this.#source)) {
      if (e.mask & (IN_MODIFY | IN_Q_OVERFLOW)) this.#pending = true;
      if (e.mask & (IN_MODIFY | IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF)) relevant = true;
    }
    return relevant;
  }

  /** Reads the counter and records any growth; `woken` marks a v1 notification. */
  #check(woken = false): void {
    if (this.#state === "gone") return;
    let ancestors: (bigint | null | undefined)[];
    let count: bigint | null | undefined;
    try {
      // Ancestors first: a kill landing between the reads is then never lost, at worst
      // counted again should the cgroup vanish unread.
      ancestors = this.#ancestors.map((a) => readOomKill(a.file));
      count = readOomKill(this.#file);
    } catch (err) {
      // Unreadable or garbled right now: keep the count, try again on the next event.
      this.#log.warn("OOM watch: cannot read the oom_kill counter", { dir: this.dir, err });
      return;
    }
    if (count === null) {
      this.#vanished();
      return;
    }
    this.#pending = false;
    ancestors.forEach((n, i) => {
      if (n !== null && n !== undefined) this.#ancestors[i]!.seen = n;
    });
    if (this.#countWakes) {
      if (woken) this.#add(1);
      return;
    }
    if (count === undefined) return;
    const grew = this.#record(count);
    if (woken && !grew) this.#recheck(0);
  }

  /** v1: the notification precedes the kill, so look again a few times. */
  #recheck(attempt: number): void {
    this.#stopTimer();
    const delay = V1_RECHECK_MS[attempt];
    if (delay === undefined || this.#state !== "watching") return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const before = this.#kills;
      this.#check();
      if (this.#kills === before) this.#recheck(attempt + 1);
    }, delay);
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The cgroup is gone: keep the count, and recover an unread v2 event from the nearest
   * ancestor that is still there.
   */
  #vanished(): void {
    if (this.#pending) {
      for (const a of this.#ancestors) {
        let now: bigint | null | undefined;
        try {
          now = readOomKill(a.file);
        } catch (err) {
          this.#log.warn("OOM watch: cannot read an ancestor's oom_kill", { file: a.file, err });
          break;
        }
        // Gone with us (the scope around crun's sub-cgroup): look further up.
        if (now === null) continue;
        if (now !== undefined && now > a.seen) {
          // The counter is hierarchical; a sibling's kill in this same window would be
          // counted here too — the price of not losing our own.
          this.#add(Number(now - a.seen));
          a.seen = now;
        }
        break;
      }
    }
    this.#pending = false;
    const wasWatching = this.#state === "watching";
    this.#state = "gone";
    this.#stopTimer();
    if (wasWatching && !this.#released) signalEventfd(this.#wake);
  }

  #record(count: bigint): boolean {
    if (count <= this.#last) {
      this.#last = count;
      return false;
    }
    const delta = count - this.#last;
    this.#last = count;
    this.#add(Number(delta));
    return true;
  }

  #add(n: number): void {
    this.#kills += n;
    for (const cb of this.#callbacks) {
      try {
        cb(this.#kills);
      } catch (err) {
        this.#log.error("OOM watch: a kill callback threw", { dir: this.dir, err });
      }
    }
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    for (const fd of [this.#source, this.#wake]) {
      try {
        closeFd(fd);
      } catch (err) {
        this.#log.warn("OOM watch: cannot close fd", { fd, err });
      }
    }
  }
}

/** An ancestor cgroup's `memory.events` and the `oom_kill` count last seen in it. */
interface Ancestor {
  readonly file: string;
  seen: bigint;
}

/**
 * The `memory.events` files of the ancestors of `dir` below the hierarchy's root `rootDir`
 * (which has none), nearest first, with their current counts; those unreadable or
 * without the counter are left out.
 */
function ancestorsOf(dir: string, rootDir: string): Ancestor[] {
  const out: Ancestor[] = [];
  for (let d = dir.slice(0, dir.lastIndexOf("/")); d.startsWith(`${rootDir}/`);) {
    const file = `${d}/memory.events`;
    const seen = readOomKill(file);
    if (seen !== null && seen !== undefined) out.push({ file, seen });
    d = d.slice(0, d.lastIndexOf("/"));
  }
  return out;
}

/**
 * The `oom_kill` counter of a `memory.events` / `memory.oom_control` file; null when the
 * cgroup is gone, undefined when the kernel has no such counter.
 */
function readOomKill(file: string): bigint | null | undefined {
  let text: string;
  try {
    text = kernfs.readTextFileSync(file);
  } catch (err) {
    // A removed cgroup's files are gone (ENOENT) or, when still open, dead (ENODEV).
    if (isNotFound(err) || (err instanceof Error && /ENODEV|No such device/.test(err.message))) {
      return null;
    }
    throw wrap(err, `cannot read ${file}`);
  }
  return parseFlatKeyed(text, file).get("oom_kill");
}

/**
 * The kernel's `oom_kill` counter of a memory cgroup directory, for a look without a
 * watch (the agent checking a container whose shim is gone against a persisted
 * baseline). Undefined when the cgroup is gone or the kernel keeps no such counter.
 */
export function readOomKillCount(version: CgroupVersion, dir: string): bigint | undefined {
  const count = readOomKill(`${dir}/${version === 1 ? "memory.oom_control" : "memory.events"}`);
  return count ?? undefined;
}

/**
 * Starts counting OOM kills in the memory cgroup of `pid` (the container's init, right
 * after `runc create`). Not-found when the process or its cgroup is gone;
 * failed-precondition when no memory controller is mounted.
 */
export async function watchOom(pid: number, opts?: WatchOomOptions): Promise<OomWatcher> {
  const procRoot = opts?.procRoot ?? "/proc";
  const logger = opts?.logger ?? nullLogger;
  const layout = await detectLayout(opts?.mountinfo ? { mountinfo: opts.mountinfo } : {});
  const mount = mountFor(layout, "memory");
  if (!mount) throw failedPrecondition("no memory cgroup controller is mounted");
  let procCgroup: string;
  try {
    procCgroup = await kernfs.readTextFile(`${procRoot}/${pid}/cgroup`);
  } catch (err) {
    throw wrap(err, `cannot read the cgroups of process ${pid}`);
  }
  const dir = processControllerDir(layout, parseProcCgroup(procCgroup), "memory");
  const version = mount.version;

  const wake = createEventfd();
  let source = -1;
  try {
    if (version === 1) {
      source = createEventfd();
      const control = openFd(`${dir}/memory.oom_control`);
      try {
        // The kernel keeps its own reference to the eventfd, not to this fd.
        kernfs.writeTextFileSync(`${dir}/cgroup.event_control`, `${source} ${control}`);
      } finally {
        closeFd(control);
      }
    } else {
      source = inotifyInit();
      inotifyAddWatch(source, `${dir}/memory.events`, IN_MODIFY | IN_DELETE_SELF);
    }
    // Read the baseline after arming the watch, so no kill falls between the two.
    const file = `${dir}/${version === 1 ? "memory.oom_control" : "memory.events"}`;
    const baseline = readOomKill(file);
    if (baseline === null) throw notFound(`memory cgroup ${dir} of process ${pid} vanished`);
    return new CgroupOomWatcher({
      version,
      dir,
      source,
      wake,
      baseline,
      ancestors: version === 2 ? ancestorsOf(dir, mount.dir) : [],
      logger,
    });
  } catch (err) {
    for (const fd of [source, wake]) if (fd >= 0) closeFd(fd);
    throw wrap(err, `cannot watch OOM kills of process ${pid}`);
  }
}
