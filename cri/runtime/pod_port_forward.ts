/**
 * PortForward: check the pod, then answer with a single-use URL on the streaming server.
 *
 * @module
 */
import type { PortForwardRequest, PortForwardResponse } from "../../api/gen/api.ts";
import type { StreamingServer } from "../../streaming/mod.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { checkPortForward } from "../../runtime/streaming_backend.ts";
import { id, inRange } from "../validate.ts";

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
