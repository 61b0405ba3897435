/**
 * A gRPC server over our own HTTP/2, on unix sockets.
 *
 * Why not `node:http2` (and so `@grpc/grpc-js`'s server): on Deno 2.9 it aborts the whole
 * process (`free(): invalid pointer`) when a client closes a connection that carried
 * ~128 streams, and it rejects the raw socket path that crictl and the kubelet ≤ 1.28
 * send as `:authority`. This implementation speaks HTTP/2 with prior knowledge
 * (RFC 9113, HPACK per RFC 7541) and the gRPC wire protocol (grpc/grpc
 * `doc/PROTOCOL-HTTP2.md`): unary and server-streaming calls, `grpc-timeout`, gzip
 * request messages, size limits, and cancellation through an AbortSignal. Receive flow
 * control follows consumption, so one connection holds at most its streams' 64 KiB windows
 * plus a pool of two maximum messages (`_h2_connection.ts`).
 *
 * ```ts
 * const server = new GrpcServer({ maxRecvMessageBytes: 16 << 20, maxSendMessageBytes: 16 << 20,
 *   maxConcurrentStreams: 1000, maxConcurrentCalls: 10_000, logger });
 * server.addUnary("/runtime.v1.RuntimeService/Version", protoCodec(VersionRequest),
 *   protoCodec(VersionResponse), async (req, ctx) => ({ ... }));
 * await server.listen("/run/sauropod/sauropod.sock");
 * ```
 *
 * @module
 */
import type { Codec } from "./_call.ts";

export type { CallContext, Codec } from "./_call.ts";
export { GrpcServer, type GrpcServerOptions } from "./_server.ts";
export type { ByteConn } from "./_h2_connection.ts";
export { Status, StatusError } from "./_status.ts";

/**
 * A {@link Codec} from ts-proto generated message functions
 * (`X.encode(msg).finish()`, `X.decode(bytes)`).
 */
export function protoCodec<T>(
  fns: { encode(msg: T): { finish(): Uint8Array }; decode(bytes: Uint8Array): T },
): Codec<T> {
  return { encode: (msg) => fns.encode(msg).finish(), decode: (bytes) => fns.decode(bytes) };
}
