/**
 * Attach: check the container (its tty must match), then answer with a single-use URL on
 * the streaming server.
 *
 * @module
 */
import type { AttachRequest, AttachResponse } from "../../api/gen/api.ts";
import type { StreamingServer } from "../../streaming/mod.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { checkAttach } from "../../runtime/streaming_backend.ts";
import { id } from "../validate.ts";

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
