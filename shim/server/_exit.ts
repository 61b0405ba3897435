/**
 * The exit record, `<stateDir>/exit.json`: written once, atomically (temp file, fsync,
 * rename, fsync of the directory), so an agent that restarts finds either the whole
 * record or none — even when the shim is gone by then.
 *
 * @module
 */
import { exitCodeOf, type WaitStatus } from "../../ffi/process.ts";
import { EXIT_FILE, type ExitInfo } from "../protocol.ts";
import { formatRfc3339Nano } from "../../lib/clock.ts";
import { atomicWriteSync } from "../../lib/fs.ts";

/** The record of a process that ended with `status` at `ns`. */
export function exitInfoOf(status: WaitStatus, ns: bigint, oomKilled: boolean): ExitInfo {
  const base = {
    exitCode: exitCodeOf(status),
    exitedAt: formatRfc3339Nano(ns),
    exitedAtNs: ns.toString(),
    oomKilled,
  };
  return status.kind === "signaled" ? { ...base, signal: status.signal } : base;
}

/** Writes the exit record into `stateDir`. */
export function writeExitRecord(stateDir: string, info: ExitInfo): void {
  atomicWriteSync(`${stateDir}/${EXIT_FILE}`, JSON.stringify(info) + "\n");
}
