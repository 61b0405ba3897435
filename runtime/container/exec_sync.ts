/**
 * ExecSync: run a command in a running container through its shim (which reaps it, so exec
 * probes leave no zombies), with stdout and stderr each capped and an optional timeout that
 * kills the command and answers DEADLINE_EXCEEDED, as containerd does.
 *
 * @module
 */
import { deadlineExceeded, failedPrecondition, unavailable } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";

/** The outcome of ExecSync. */
export interface ExecSyncResult {
  stdout: Uint8Array;
  stderr: Uint8Array;
  exitCode: number;
}

/** Runs `cmd` in container `containerId` and waits for it. */
export async function execSync(
  core: RuntimeCore,
  containerId: string,
  cmd: string[],
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<ExecSyncResult> {
  const c = core.container(containerId);
  if (c.doc.state !== "running") {
    throw failedPrecondition(
      `container "${c.doc.id}" is ${c.doc.state}, not running: cannot exec in it`,
    );
  }
  const shim = c.shim;
  if (!shim) throw unavailable(`container "${c.doc.id}" has no shim`);
  let r;
  try {
    r = await shim.execSync({
      args: cmd,
      tty: false,
      outputLimit: core.config.limits.execSyncOutputBytes,
      ...(timeoutSeconds > 0 ? { timeoutMs: timeoutSeconds * 1000 } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    // The container may have exited between the check above and runc exec (runc then fails
    // on its namespaces): that is a wrong-state call, not an internal error.
    const st = await shim.state().catch(() => undefined);
    if (!st || st.status !== "running") {
      throw failedPrecondition(`container "${c.doc.id}" exited: cannot exec in it`, { cause: err });
    }
    throw err;
  }
  if (r.timedOut) {
    throw deadlineExceeded(
      `command ${
        JSON.stringify(cmd)
      } in container "${c.doc.id}" timed out after ${timeoutSeconds}s`,
    );
  }
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
}
