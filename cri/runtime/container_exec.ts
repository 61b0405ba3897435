/**
 * Exec, Attach and PortForward: check the container or pod, then answer with a single-use
 * URL on the streaming server (an absolute http:// URL, as the kubelet needs).
 *
 * @module
 */
import type {
  AttachRequest,
  AttachResponse,
  ExecRequest,
  ExecResponse,
  PortForwardRequest,
  PortForwardResponse,
} from "../../api/gen/api.ts";
import type { StreamingServer } from "../../streaming/mod.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { checkAttach, checkExec, checkPortForward } from "../../runtime/streaming_backend.ts";
import { id, inRange, noNul } from "../validate.ts";
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

/** The Attach handler. */
export function attach(
  core: RuntimeCore,
  server: StreamingServer,
): (req: AttachRequest) => Promise<AttachResponse> {
  return (req) => {
    const cid = checkAttach(core, id(req.containerId, "container_id"), req.tty);
    return Promise.resolve({
      url: server.attachUrl({
        containerId: cid,
        tty: req.tty,
        stdin: req.stdin,
        stdout: req.stdout,
        stderr: req.stderr,
      }),
    });
  };
}

/** The PortForward handler. */
export function portForward(
  core: RuntimeCore,
  server: StreamingServer,
): (req: PortForwardRequest) => Promise<PortForwardResponse> {
  return (req) => {
    const pod = checkPortForward(core, id(req.podSandboxId, "pod_sandbox_id"));
    const ports = req.port.map((p, i) => inRange(p, 1, 65535, `port[${i}]`));
    return Promise.resolve({ url: server.portForwardUrl({ podSandboxId: pod, ports }) });
  };
}
