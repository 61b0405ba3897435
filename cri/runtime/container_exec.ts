/**
 * Exec: check the container, then answer with a single-use URL on the streaming server
 * (an absolute http:// URL, as the kubelet needs).
 *
 * @module
 */
import type { ExecRequest, ExecResponse } from "../../api/gen/api.ts";
import type { StreamingServer } from "../../streaming/mod.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { checkExec } from "../../runtime/streaming_backend.ts";
import { id, noNul } from "../validate.ts";
import { invalidArgument } from "../../errors/mod.ts";

/** The Exec handler. */
export function exec(
  core: RuntimeCore,
  server: StreamingServer,
): (req: ExecRequest) => Promise<ExecResponse> {
  return (req) => {
    const cid = checkExec(core, id(req.containerId, "container_id"));
    if (req.cmd.length === 0) throw invalidArgument("cmd is empty");
    req.cmd.forEach((s, i) => noNul(s, `cmd[${i}]`));
    return Promise.resolve({
      url: server.execUrl({
        containerId: cid,
        cmd: req.cmd,
        tty: req.tty,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
      }),
    });
  };
}
