/**
 * What a CRI handler gets besides the request (apart from `server.ts`, which calls the
 * handlers, so that they need not import it).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { PreEncoded } from "./batches.ts";

/** What a handler gets besides the request. */
export interface HandlerContext {
  /** Aborted when the client cancels, the deadline passes or the agent shuts down. */
  readonly signal: AbortSignal;
  /** Deadline in epoch ms, when the client set one. */
  readonly deadline?: number;
  /** A logger carrying the RPC name. */
  readonly logger: Logger;
}

/**
 * A server-streaming handler: it answers by calling `send` once per message, given as an
 * object or already encoded.
 */
export type StreamHandler<Req, Res> = (
  req: Req,
  ctx: HandlerContext,
  send: (msg: Res | PreEncoded) => Promise<void>,
) => Promise<void>;
