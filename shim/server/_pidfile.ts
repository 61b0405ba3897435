/**
 * Pid files: runc's `--pid-file` output and the shim's own.
 *
 * @module
 */
import { internal, wrap } from "../../errors/mod.ts";

/** Reads a pid written by runc (`--pid-file`): a positive decimal, maybe without newline. */
export function readPidFile(path: string): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw wrap(err, `cannot read pid file ${path}`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    throw internal(`pid file ${path} holds ${JSON.stringify(text.slice(0, 32))}, not a pid`);
  }
  return pid;
}
