/**
 * Finding shims again after an agent restart: the live shim of a container (by pid *and*
 * command line, so a reused pid is never taken for a shim), the state dirs present, the
 * exit record a dead shim left, and the runtime settings it was started with.
 * containerd's `core/runtime/v2/shim_load.go`.
 *
 * Recovery's assumption: a state dir without a live shim is garbage once its exit record
 * (if any) has been read.
 *
 * @module
 */
import { internal, isNotFound, wrap } from "../../errors/mod.ts";
import {
  EXIT_FILE,
  isContainerId,
  parseExitInfo,
  type RuntimeSpec,
  SOCKET_FILE,
} from "../protocol.ts";
import { ControlClient } from "./_conn.ts";
import { type HandleHost, ShimClient, toExitRecord } from "./_handle.ts";
import { readShimPid, shimAlive } from "./_proc.ts";
import { type Bootstrap, BOOTSTRAP_FILE, type ShimProcesses } from "./_spawn.ts";
import type { ExitRecord, ShimHandle } from "./_types.ts";

/**
 * Reconnects to the live shim of `id` (after an agent restart). `undefined` when none
 * runs; then {@link lastExit} tells how the container ended.
 */
export async function reconnect(
  procs: ShimProcesses,
  host: HandleHost,
  id: string,
): Promise<ShimHandle | undefined> {
  const stateDir = procs.dir(id);
  const pid = readShimPid(stateDir);
  if (pid === undefined || !shimAlive(pid, id)) return undefined;
  const control = await ControlClient.open(`${stateDir}/${SOCKET_FILE}`, id);
  try {
    const state = await control.call("state", {}, 10_000);
    const runtime = await bootstrapRuntime(procs, id);
    return new ShimClient({
      id,
      stateDir,
      initPid: state.pid,
      control,
      callTimeoutMs: runtime?.callTimeoutMs ?? 60_000,
      host,
    });
  } catch (err) {
    control.close();
    throw err;
  }
}

/** Ids of the state dirs present (live shims or their leftovers). */
export async function shimIds(procs: ShimProcesses): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(procs.stateRoot)) {
      if (e.isDirectory && isContainerId(e.name)) out.push(e.name);
    }
  } catch (err) {
    if (!isNotFound(err)) throw wrap(err, `cannot list ${procs.stateRoot}`);
  }
  return out.sort();
}

/** The exit record the shim of `id` wrote, if any. */
export async function lastExit(procs: ShimProcesses, id: string): Promise<ExitRecord | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${procs.dir(id)}/${EXIT_FILE}`);
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
export async function bootstrapRuntime(
  procs: ShimProcesses,
  id: string,
): Promise<RuntimeSpec | undefined> {
  try {
    const b = JSON.parse(
      await Deno.readTextFile(`${procs.dir(id)}/${BOOTSTRAP_FILE}`),
    ) as Partial<Bootstrap>;
    return b.runtime;
  } catch {
    return undefined;
  }
}
