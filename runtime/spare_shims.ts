/**
 * Shims started ahead of the containers that will use them, so that CreateContainer does
 * not wait for a Deno process to start (≈ 30 ms idle, far more under a burst, the largest
 * part of its latency):
 *
 * - the node keeps a pool of spares, allowed to write under the kubelet's pod log
 *   directory (`runtime.pod_logs_dir`): one, grown after a burst of RunPodSandbox calls to
 *   the burst's size (at most {@link POOL_MAX}), so the next burst finds its shims already
 *   started, and back to one after {@link SHRINK_AFTER_MS} without a new pod;
 * - RunPodSandbox hands a pool spare to the new pod, or, when the pod logs elsewhere or the
 *   pool is empty, starts one for the pod while the pod is set up;
 * - CreateContainer takes its pod's spare, with the container id reserved for it.
 *
 * A pool spare taken by a lone pod is replaced at once; during a burst the pool is refilled
 * once the burst is over ({@link GROW_DELAY_MS} after its last pod), so refilling does not
 * compete with the burst for the CPU. An unused pod spare exits after 30 s; a pool spare
 * after a day (and is replaced); every spare is stopped with the agent (`dropSpares`).
 *
 * @module
 */
import type { RuntimeCore } from "./core.ts";
import { newId } from "./ids.ts";
import { shimRuntime } from "./shim_runtime.ts";

/** The key of the node's first pool spare; the others are `@node/1` … */
export const POOL = "@node";
/** Most spares the pool grows to (each is an idle Deno process, ≈ 14 MiB). */
export const POOL_MAX = 8;
/** Pods arriving within this window of each other count as one burst. */
export const BURST_WINDOW_MS = 2_000;
/** The pool is refilled (and grown) this long after a burst's last pod. */
export const GROW_DELAY_MS = 1_000;
/** Without a new pod for this long, the pool shrinks back to one spare. */
export const SHRINK_AFTER_MS = 60_000;

const POOL_IDLE_MS = 24 * 3600 * 1000;

/** The key of pool slot `i`. */
export function poolKey(i: number): string {
  return i === 0 ? POOL : `${POOL}/${i}`;
}

/** The pool's sizing state, one per runtime. */
type Timer = ReturnType<typeof setTimeout>;

interface PoolState {
  /** Spares the pool keeps now (1 … POOL_MAX). */
  target: number;
  /** When recent pods arrived (within the burst window). */
  arrivals: number[];
  grow: Timer | undefined;
  shrink: Timer | undefined;
}

const pools = new WeakMap<RuntimeCore, PoolState>();

function stateOf(core: RuntimeCore): PoolState {
  let s = pools.get(core);
  if (!s) {
    s = { target: 1, arrivals: [], grow: undefined, shrink: undefined };
    pools.set(core, s);
  }
  return s;
}

function trimmed(dir: string | undefined): string | undefined {
  const d = dir?.replace(/\/+$/, "");
  return d ? d : undefined;
}

function startSpare(core: RuntimeCore, key: string, logDir: string): void {
  const id = newId();
  core.deps.shims.prespawn(key, {
    id,
    bundle: `${core.config.root}/containers/${id}`,
    runtime: shimRuntime(core),
    logDir,
    idleMs: POOL_IDLE_MS,
  });
}

/**
 * Starts the pool's missing spares, up to its current size (a no-op without
 * `runtime.pod_logs_dir`; a slot whose spare is there or starting is left alone).
 */
export function refillPool(core: RuntimeCore): void {
  const logDir = trimmed(core.config.runtime.podLogsDir);
  if (!logDir) return;
  const s = stateOf(core);
  for (let i = 0; i < s.target; i++) startSpare(core, poolKey(i), logDir);
}

function timer(fn: () => void, ms: number): Timer {
  const t = setTimeout(fn, ms);
  // A pending resize never keeps the agent alive.
  Deno.unrefTimer(t as unknown as number);
  return t;
}

/** After a burst: grow the pool to its size and refill; later, shrink when idle. */
function schedule(core: RuntimeCore, s: PoolState, burst: number): void {
  clearTimeout(s.grow);
  s.grow = timer(() => {
    s.grow = undefined;
    s.target = Math.min(POOL_MAX, Math.max(s.target, burst));
    refillPool(core);
  }, GROW_DELAY_MS);
  clearTimeout(s.shrink);
  s.shrink = timer(() => {
    s.shrink = undefined;
    s.target = 1;
    for (let i = 1; i < POOL_MAX; i++) void core.deps.shims.dropSpare(poolKey(i));
  }, SHRINK_AFTER_MS);
}

/** Gives pod `podId` (logging under `logDirectory`) a spare shim for its next container. */
export function spareForPod(
  core: RuntimeCore,
  podId: string,
  logDirectory: string,
  now: number = performance.now(),
): void {
  const logDir = trimmed(logDirectory);
  const s = stateOf(core);
  s.arrivals = s.arrivals.filter((t) => now - t < BURST_WINDOW_MS);
  s.arrivals.push(now);
  const burst = s.arrivals.length;
  if (trimmed(core.config.runtime.podLogsDir)) schedule(core, s, burst);
  for (let i = 0; i < POOL_MAX; i++) {
    if (!core.deps.shims.moveSpare(poolKey(i), podId, logDir)) continue;
    // A lone pod's spare is replaced now; a burst's once the burst is over.
    if (burst === 1) refillPool(core);
    return;
  }
  const id = newId();
  core.deps.shims.prespawn(podId, {
    id,
    bundle: `${core.config.root}/containers/${id}`,
    runtime: shimRuntime(core),
    ...(logDir ? { logDir } : {}),
  });
}

/** Stops the pool's resize timers (the agent is stopping; its spares are dropped anyway). */
export function stopPoolTimers(core: RuntimeCore): void {
  const s = pools.get(core);
  if (!s) return;
  clearTimeout(s.grow);
  clearTimeout(s.shrink);
  s.grow = s.shrink = undefined;
}
