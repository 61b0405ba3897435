/**
 * A typed CRI client for end-to-end tests and benchmarks: `@grpc/grpc-js` over the agent's
 * unix socket, built from the generated service definitions, so every RPC of
 * `runtime.v1.RuntimeService` and `runtime.v1.ImageService` is a typed method:
 *
 * ```ts
 * const cri = new CriClient("/run/sauropod/sauropod.sock");
 * const { runtimeName } = await cri.runtime.version({});
 * for await (const ev of cri.runtime.getContainerEvents({}, { signal })) { … }
 * cri.close();
 * ```
 *
 * It sends `:authority: localhost` as crictl and the kubelet do from 1.31 on (override it
 * with `authority`, e.g. the socket path, to act like crictl ≤ 1.28). Requests are built
 * with the message's `fromPartial`, so tests spell only the fields they care about.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { ImageServiceDefinition, RuntimeServiceDefinition } from "../../api/gen/api.ts";

type Builtin =
  | Date
  | ((...args: never[]) => unknown)
  | Uint8Array
  | string
  | number
  | boolean
  | bigint
  | undefined;

/** What `fromPartial` accepts: every field optional, int64 also as number or string. */
export type DeepPartial<T> = T extends bigint ? string | number | bigint
  : T extends Builtin ? T
  : T extends Array<infer U> ? Array<DeepPartial<U>>
  : T extends ReadonlyArray<infer U> ? ReadonlyArray<DeepPartial<U>>
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : Partial<T>;

/** The shape of a generated method definition. */
interface MethodDefinition {
  readonly name: string;
  readonly requestType: {
    encode(msg: never): { finish(): Uint8Array };
    fromPartial(obj: never): unknown;
  };
  readonly responseType: { decode(input: Uint8Array): unknown };
  readonly requestStream: boolean;
  readonly responseStream: boolean;
}

/** The shape of a generated service definition. */
interface ServiceDefinition {
  readonly fullName: string;
  readonly methods: Readonly<Record<string, MethodDefinition>>;
}

/** The request message type of a method definition. */
export type RequestOf<M> = M extends { requestType: { encode(msg: infer R): unknown } } ? R : never;
/** The response message type of a method definition. */
export type ResponseOf<M> = M extends { responseType: { decode(input: never): infer R } } ? R
  : never;

/** Per-call options. */
export interface CallOptions {
  /** Deadline from now; unary default: the client's `timeoutMs`; streams: none. */
  timeoutMs?: number;
  /** Extra request metadata. */
  metadata?: Record<string, string>;
  /** Cancels the call when aborted. */
  signal?: AbortSignal;
}

/** A unary RPC. */
export type UnaryMethod<M> = (
  req?: DeepPartial<RequestOf<M>>,
  opts?: CallOptions,
) => Promise<ResponseOf<M>>;

/** A server-streaming RPC: iterate it; leaving the loop early cancels the call. */
export type StreamMethod<M> = (
  req?: DeepPartial<RequestOf<M>>,
  opts?: CallOptions,
) => AsyncIterable<ResponseOf<M>>;

/** One typed method per RPC of a service, named as in the definition (`listPodSandbox`). */
export type ServiceClient<S extends { methods: object }> = {
  readonly [K in keyof S["methods"]]: S["methods"][K] extends { responseStream: true }
    ? StreamMethod<S["methods"][K]>
    : UnaryMethod<S["methods"][K]>;
};

/** The typed RuntimeService. */
export type RuntimeClient = ServiceClient<RuntimeServiceDefinition>;
/** The typed ImageService. */
export type ImageClient = ServiceClient<ImageServiceDefinition>;

/** A failed call: the numeric gRPC status `code` and the server's `details`. */
export class CriError extends Error {
  /** Creates the error for `method` failing with `code`. */
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
    options?: ErrorOptions,
  ) {
    super(`${method}: ${grpc.status[code] ?? code}: ${details}`, options);
    this.name = "CriError";
  }
}

/** Client settings. */
export interface CriClientOptions {
  /** `:authority` to send; default "localhost" (crictl/kubelet ≥ 1.31). */
  authority?: string;
  /** Default unary deadline; crictl's is 2 s, tests get a forgiving 60 s. */
  timeoutMs?: number;
  /** Largest message either way; default 16 MiB as crictl and the kubelet. */
  maxMessageBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_MESSAGE = 16 << 20;

/** A CRI client on one connection. */
export class CriClient {
  /** `runtime.v1.RuntimeService`. */
  readonly runtime: RuntimeClient;
  /** `runtime.v1.ImageService`. */
  readonly image: ImageClient;
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;

  /** Connects (lazily, on the first call) to the CRI socket at `socketPath`. */
  constructor(socketPath: string, opts: CriClientOptions = {}) {
    const max = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
      "grpc.default_authority": opts.authority ?? "localhost",
      "grpc.max_receive_message_length": max,
      "grpc.max_send_message_length": max,
      // Each CriClient is its own connection, as each crictl process is.
      "grpc.use_local_subchannel_pool": 1,
    });
    this.runtime = this.#service(RuntimeServiceDefinition) as unknown as RuntimeClient;
    this.image = this.#service(ImageServiceDefinition) as unknown as ImageClient;
  }

  /** Closes the connection; calls in progress fail with CANCELLED. */
  close(): void {
    this.#client.close();
  }

  #service(def: ServiceDefinition): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, m] of Object.entries(def.methods)) {
      const path = `/${def.fullName}/${m.name}`;
      const serialize = (req: unknown): Buffer => {
        const b = m.requestType.encode(req as never).finish();
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      };
      const deserialize = (b: Buffer): unknown => m.responseType.decode(b);
      const build = (req: unknown) => m.requestType.fromPartial((req ?? {}) as never);
      out[key] = m.responseStream
        ? (req?: unknown, opts: CallOptions = {}) =>
          this.#stream(path, serialize, deserialize, build(req), opts)
        : (req?: unknown, opts: CallOptions = {}) =>
          this.#unary(path, serialize, deserialize, build(req), opts);
    }
    return out;
  }

  #callOptions(opts: CallOptions, defaultTimeout: number | undefined): grpc.CallOptions {
    const timeout = opts.timeoutMs ?? defaultTimeout;
    return timeout === undefined ? {} : { deadline: Date.now() + timeout };
  }

  #unary(
    path: string,
    serialize: (req: unknown) => Buffer,
    deserialize: (b: Buffer) => unknown,
    req: unknown,
    opts: CallOptions,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(new CriError(path, grpc.status.CANCELLED, "aborted before the call"));
        return;
      }
      const call = this.#client.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        req,
        metadataOf(opts),
        this.#callOptions(opts, this.#timeoutMs),
        (err, res) => {
          opts.signal?.removeEventListener("abort", cancel);
          if (err) reject(toCriError(path, err));
          else resolve(res);
        },
      );
      const cancel = () => call.cancel();
      opts.signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  async *#stream(
    path: string,
    serialize: (req: unknown) => Buffer,
    deserialize: (b: Buffer) => unknown,
    req: unknown,
    opts: CallOptions,
  ): AsyncGenerator<unknown> {
    if (opts.signal?.aborted) {
      throw new CriError(path, grpc.status.CANCELLED, "aborted before the call");
    }
    const call = this.#client.makeServerStreamRequest(
      path,
      serialize,
      deserialize,
      req,
      metadataOf(opts),
      this.#callOptions(opts, undefined),
    );
    const cancel = () => call.cancel();
    opts.signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const msg of call) yield msg;
    } catch (err) {
      throw toCriError(path, err);
    } finally {
      opts.signal?.removeEventListener("abort", cancel);
      // Leaving the loop early (break, throw) ends the call; a no-op once it finished.
      call.cancel();
    }
  }
}

function metadataOf(opts: CallOptions): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  return md;
}

function toCriError(method: string, err: unknown): CriError {
  if (err instanceof CriError) return err;
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e.code === "number") {
    return new CriError(method, e.code, e.details ?? e.message ?? "", { cause: err });
  }
  return new CriError(
    method,
    grpc.status.UNKNOWN,
    err instanceof Error ? err.message : String(err),
    {
      cause: err,
    },
  );
}
