/**
 * Is a shim alive? By its pid, checked against its command line so that a reused pid is
 * never mistaken for the shim (the agent may come back long after the shim died).
 *
 * @module
 */
import { PID_FILE } from "../protocol.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../../ffi/kernfs.ts";

/** The shim pid recorded in `stateDir`, if any. */
export function readShimPid(stateDir: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(`${stateDir}/${PID_FILE}`).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True when `cmdline` (NUL-separated) is the shim of container `id`. */
export function isShimCmdline(cmdline: string, id: string): boolean {
  const args = cmdline.split("\0");
  const shim = args.indexOf("shim");
  if (shim < 0) return false;
  const at = args.indexOf("--id", shim);
  return at > 0 && args[at + 1] === id;
}

/** True while process `pid` runs (not a zombie) as the shim of container `id`. */
export function shimAlive(pid: number, id: string): boolean {
  try {
    const stat = kernfs.readTextFileSync(`/proc/${pid}/stat`);
    // The state follows the command name, which is in parentheses and may hold spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    return isShimCmdline(kernfs.readTextFileSync(`/proc/${pid}/cmdline`), id);
  } catch {
    return false;
  }
}

/** Waits until `pid` is no longer the live shim of `id`, at most `ms`; true if it went. */
export async function waitShimGone(pid: number, id: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (let delay = 5; shimAlive(pid, id); delay = Math.min(delay * 2, 100)) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, delay));
  }
  return true;
}
