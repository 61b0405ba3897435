/**
 * Shims started ahead of the containers that will use them, so that CreateContainer does
 * not wait for a Deno process to start (≈ 30 ms, the largest part of its latency):
 *
 * - the node keeps one spare in a pool, allowed to write under the kubelet's pod log
 *   directory (`runtime.pod_logs_dir`);
 * - RunPodSandbox hands that spare to the new pod (and refills the pool), or, when the pod
 *   logs elsewhere or the pool is empty, starts one for the pod while the pod is set up;
 * - CreateContainer takes its pod's spare, with the container id reserved for it.
 *
 * An unused pod spare exits after 30 s; the pool's after a day (and is refilled).
 *
 * @module
 */
import type { RuntimeCore } from "./core.ts";
import { newId } from "./ids.ts";
import { shimRuntime } from "./shim_runtime.ts";
import type { RuntimeHandlerInfo } from "./handlers.ts";

/** The key of the node's pool spare. */
export const POOL = "@node";

const POOL_IDLE_MS = 24 * 3600 * 1000;

function trimmed(dir: string | undefined): string | undefined {
  const d = dir?.replace(/\/+$/, "");
  return d ? d : undefined;
}

/** Starts the pool's spare if there is none (a no-op without `runtime.pod_logs_dir`). */
export function refillPool(core: RuntimeCore): void {
  const logDir = trimmed(core.config.runtime.podLogsDir);
  if (!logDir) return;
  const id = newId();
  core.deps.shims.prespawn(POOL, {
    id,
    bundle: `${core.config.root}/containers/${id}`,
    runtime: shimRuntime(core),
    logDir,
    idleMs: POOL_IDLE_MS,
  });
}

/**
 * Gives pod `podId` (logging under `logDirectory`, running under `handler`) a spare shim for
 * its next container. The pool's spare runs the default handler's runtime: a pod of another
 * handler gets its own.
 */
export function spareForPod(
  core: RuntimeCore,
  podId: string,
  logDirectory: string,
  handler: RuntimeHandlerInfo,
): void {
  const logDir = trimmed(logDirectory);
  if (handler === core.handlers.default && core.deps.shims.moveSpare(POOL, podId, logDir)) {
    refillPool(core);
    return;
  }
  const id = newId();
  core.deps.shims.prespawn(podId, {
    id,
    bundle: `${core.config.root}/containers/${id}`,
    runtime: shimRuntime(core, handler),
    ...(logDir ? { logDir } : {}),
  });
}
