/**
 * GetContainerEvents: a server stream of lifecycle events until the client goes away.
 *
 * @module
 */
import type { ContainerEventResponse, GetEventsRequest } from "../../api/gen/api.ts";
import type { Runtime } from "../../runtime/mod.ts";
import type { HandlerContext } from "../server.ts";

/** The GetContainerEvents handler. */
export function getContainerEvents(
  rt: Runtime,
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
    const sub = rt.events(ctx.signal);
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
