/**
 * ExecSync.
 *
 * @module
 */
import type { ExecSyncRequest, ExecSyncResponse } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { execSync as exec } from "../../runtime/container/exec_sync.ts";
import type { HandlerContext } from "../context.ts";
import { id, inRange, noNul } from "../validate.ts";
import { invalidArgument } from "../../errors/mod.ts";

/** The ExecSync handler. */
export function execSync(
  core: RuntimeCore,
): (req: ExecSyncRequest, ctx: HandlerContext) => Promise<ExecSyncResponse> {
  return async (req: ExecSyncRequest, ctx: HandlerContext): Promise<ExecSyncResponse> => {
    const cid = id(req.containerId, "container_id");
    if (req.cmd.length === 0) throw invalidArgument("cmd is empty");
    req.cmd.forEach((s, i) => noNul(s, `cmd[${i}]`));
    const timeout = inRange(req.timeout, 0, 2 ** 31 - 1, "timeout");
    const r = await exec(core, cid, req.cmd, timeout, ctx.signal);
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  };
}
