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

/**
 * Writes `content` to `path` durably: temp file, fsync, rename, fsync of the directory. The
 * file is root's only (0600), like everything a shim keeps (its state dir is 0700 too).
 */
export function writeFileAtomic(path: string, content: string): void {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  const tmp = `${path}.tmp`;
  const f = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    const data = new TextEncoder().encode(content);
    let off = 0;
    while (off < data.byteLength) off += f.writeSync(data.subarray(off));
    f.syncSync();
  } finally {
    f.close();
  }
  Deno.renameSync(tmp, path);
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  }
}

/** Writes the exit record into `stateDir`. */
export function writeExitRecord(stateDir: string, info: ExitInfo): void {
  writeFileAtomic(`${stateDir}/${EXIT_FILE}`, JSON.stringify(info) + "\n");
}
