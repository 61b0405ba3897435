/**
 * The CRI server: registers every RPC of `runtime.v1.RuntimeService` and
 * `runtime.v1.ImageService` on the gRPC transport.
 *
 * Handlers are plain functions from request to response (one file per RPC, as containerd
 * keeps them); an RPC without a handler answers UNIMPLEMENTED naming itself, so a client
 * always learns exactly what is missing. Errors become statuses in `status.ts` only.
 *
 * @module
 */
import { ImageServiceDefinition, RuntimeServiceDefinition } from "../api/gen/api.ts";
import { type CallContext, GrpcServer, Status } from "../lib/grpc/mod.ts";
import { unimplemented } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { toStatus } from "./status.ts";

type Methods = Record<string, MethodDef>;
interface MethodDef {
  readonly name: string;
  readonly requestType: Codec;
  readonly responseType: Codec;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}
interface Codec {
  // Method syntax keeps parameters bivariant, so every generated codec fits.
  encode(message: never): { finish(): Uint8Array };
  decode(input: Uint8Array): unknown;
}

type Decoded<C> = C extends { decode(input: Uint8Array): infer R } ? R : never;
type Encoded<C> = C extends { encode(message: infer M): unknown } ? M : never;

/** What a handler gets besides the request. */
export interface HandlerContext {
  /** Aborted when the client cancels, the deadline passes or the agent shuts down. */
  readonly signal: AbortSignal;
  /** Deadline in epoch ms, when the client set one. */
  readonly deadline?: number;
  /** A logger carrying the RPC name. */
  readonly logger: Logger;
}

/** A unary handler for method `M`. */
export type Unary<M extends MethodDef> = (
  req: Decoded<M["requestType"]>,
  ctx: HandlerContext,
) => Promise<Encoded<M["responseType"]>>;

/** A server-streaming handler for method `M`. */
export type ServerStream<M extends MethodDef> = (
  req: Decoded<M["requestType"]>,
  ctx: HandlerContext,
  send: (msg: Encoded<M["responseType"]>) => Promise<void>,
) => Promise<void>;

/** Handlers keyed by the generated method keys (`version`, `runPodSandbox`, …). */
export type HandlersOf<D extends Methods> = {
  [K in keyof D]?: D[K]["responseStream"] extends true ? ServerStream<D[K]> : Unary<D[K]>;
};

/** RuntimeService handlers. */
export type RuntimeHandlers = HandlersOf<typeof RuntimeServiceDefinition.methods>;
/** ImageService handlers. */
export type ImageHandlers = HandlersOf<typeof ImageServiceDefinition.methods>;

/** Options of {@link createCriServer}. */
export interface CriServerOptions {
  logger: Logger;
  maxRecvMessageBytes: number;
  maxSendMessageBytes: number;
  maxConcurrentCalls: number;
  runtime: RuntimeHandlers;
  image: ImageHandlers;
}

/** Builds the gRPC server with every CRI method registered. */
export function createCriServer(opts: CriServerOptions): GrpcServer {
  const log = opts.logger;
  const server = new GrpcServer({
    maxRecvMessageBytes: opts.maxRecvMessageBytes,
    maxSendMessageBytes: opts.maxSendMessageBytes,
    maxConcurrentStreams: 1000,
    maxConcurrentCalls: opts.maxConcurrentCalls,
    logger: log,
    toStatus,
    onCallEnd: ({ method, code, durationMs, message }) => {
      const rpc = method.slice(method.lastIndexOf("/") + 1);
      const fields = { rpc, code: Status[code] ?? code, ms: Math.round(durationMs * 10) / 10 };
      if (code === Status.INTERNAL || code === Status.UNKNOWN) {
        log.error("call failed", { ...fields, err: message });
      } else if (log.enabled("debug")) {
        log.debug("call", message ? { ...fields, err: message } : fields);
      }
    },
  });
  register(server, RuntimeServiceDefinition, opts.runtime as Record<string, unknown>, log);
  register(server, ImageServiceDefinition, opts.image as Record<string, unknown>, log);
  return server;
}

function register(
  server: GrpcServer,
  def: { readonly fullName: string; readonly methods: Methods },
  handlers: Record<string, unknown>,
  log: Logger,
): void {
  for (const [key, m] of Object.entries(def.methods)) {
    const path = `/${def.fullName}/${m.name}`;
    const req = { decode: (b: Uint8Array) => m.requestType.decode(b) };
    const res = { encode: (msg: unknown) => m.responseType.encode(msg as never).finish() };
    const codecs = {
      req: { ...req, encode: (msg: unknown) => m.requestType.encode(msg as never).finish() },
      res: { ...res, decode: (b: Uint8Array) => m.responseType.decode(b) },
    };
    const handler = handlers[key];
    const rpcLog = log.with({ rpc: m.name });
    const ctxOf = (c: CallContext): HandlerContext => ({
      signal: c.signal,
      logger: rpcLog,
      ...(c.deadline !== undefined ? { deadline: c.deadline } : {}),
    });
    if (m.responseStream) {
      const h = handler as
        | ((r: unknown, c: HandlerContext, s: (m: unknown) => Promise<void>) => Promise<void>)
        | undefined;
      server.addServerStream(path, codecs.req, codecs.res, (r, c, send) => {
        if (!h) throw unimplemented(`${m.name} is not implemented by sauropod`);
        return h(r, ctxOf(c), send);
      });
    } else {
      const h = handler as ((r: unknown, c: HandlerContext) => Promise<unknown>) | undefined;
      server.addUnary(path, codecs.req, codecs.res, (r, c) => {
        if (!h) return Promise.reject(unimplemented(`${m.name} is not implemented by sauropod`));
        return h(r, ctxOf(c));
      });
    }
  }
}
