/**
 * GetContainerEvents: a server stream of lifecycle events until the client goes away.
 *
 * @module
 */
import type { ContainerEventResponse, GetEventsRequest } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import type { HandlerContext } from "../context.ts";

/** The GetContainerEvents handler. */
export function getContainerEvents(
  core: RuntimeCore,
): (
  _req: GetEventsRequest,
  ctx: HandlerContext,
  send: (msg: ContainerEventResponse) => Promise<void>,
) => Promise<void> {
  return async (
    _req: GetEventsRequest,
    ctx: HandlerContext,
    send: (msg: ContainerEventResponse) => Promise<void>,
  ): Promise<void> => {
    const sub = core.events.subscribe(ctx.signal);
    try {
      for await (const e of sub) await send(e);
    } finally {
      sub.close();
      if (sub.dropped) {
        ctx.logger.warn("events dropped for a slow subscriber", { dropped: sub.dropped });
      }
    }
  };
}
