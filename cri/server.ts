/**
 * The CRI server: the table from each RPC of `runtime.v1.RuntimeService` and
 * `runtime.v1.ImageService` to the file that handles it, registered on the gRPC transport.
 *
 * Handlers are plain functions from request to response, one file per RPC named after the
 * operation it calls (`runtime/container_create.ts` → `runtime/container/create.ts`), as
 * containerd keeps them; an RPC without a handler answers UNIMPLEMENTED naming itself, so a
 * client always learns exactly what is missing. Errors become statuses in `status.ts` only.
 *
 * @module
 */
import { ImageServiceDefinition, RuntimeServiceDefinition } from "../api/gen/api.ts";
import { type CallContext, GrpcServer, Status, StatusError } from "../lib/grpc/mod.ts";
import { unimplemented } from "../errors/mod.ts";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { ImageService } from "../image/mod.ts";
import type { RuntimeCore } from "../runtime/core.ts";
import type { StatsService } from "../runtime/stats.ts";
import type { StreamingServer } from "../streaming/mod.ts";
import { toStatus } from "./status.ts";
import { type BatchLimits, oversizeMessage, PreEncoded, streamLimits } from "./batches.ts";
import type { HandlerContext } from "./context.ts";

export type { HandlerContext };
import { version } from "./runtime/version.ts";
import { status, type StatusDeps } from "./runtime/status.ts";
import { runtimeConfig } from "./runtime/runtime_config.ts";
import { updateRuntimeConfig } from "./runtime/update_runtime_config.ts";
import { runPodSandbox } from "./runtime/pod_run.ts";
import { stopPodSandbox } from "./runtime/pod_stop.ts";
import { removePodSandbox } from "./runtime/pod_remove.ts";
import { podSandboxStatus } from "./runtime/pod_status.ts";
import { listPodSandbox } from "./runtime/pod_list.ts";
import { portForward } from "./runtime/pod_port_forward.ts";
import { podSandboxStats } from "./runtime/pod_stats.ts";
import { listPodSandboxStats } from "./runtime/pod_stats_list.ts";
import { createContainer } from "./runtime/container_create.ts";
import { startContainer } from "./runtime/container_start.ts";
import { stopContainer } from "./runtime/container_stop.ts";
import { removeContainer } from "./runtime/container_remove.ts";
import { containerStatus } from "./runtime/container_status.ts";
import { listContainers } from "./runtime/container_list.ts";
import { execSync } from "./runtime/container_exec_sync.ts";
import { exec } from "./runtime/container_exec.ts";
import { attach } from "./runtime/container_attach.ts";
import { updateContainerResources } from "./runtime/container_update.ts";
import { updatePodSandboxResources } from "./runtime/pod_update_resources.ts";
import { reopenContainerLog } from "./runtime/container_reopen_log.ts";
import { getContainerEvents } from "./runtime/container_events.ts";
import { containerStats } from "./runtime/container_stats.ts";
import { listContainerStats } from "./runtime/container_stats_list.ts";
import { checkpointContainer } from "./runtime/container_checkpoint.ts";
import { checkpointPod } from "./runtime/pod_checkpoint.ts";
import { restorePod } from "./runtime/pod_restore.ts";
import { streamPodSandboxes } from "./runtime/pod_stream.ts";
import { streamContainers } from "./runtime/container_stream.ts";
import { streamContainerStats } from "./runtime/container_stats_stream.ts";
import { streamPodSandboxStats } from "./runtime/pod_stats_stream.ts";
import { listMetricDescriptors } from "./runtime/metric_descriptors.ts";
import { listPodSandboxMetrics } from "./runtime/pod_metrics_list.ts";
import { streamPodSandboxMetrics } from "./runtime/pod_metrics_stream.ts";
import { imageFsInfo } from "./image/image_fs_info.ts";
import { imageStatus } from "./image/image_status.ts";
import { listImages } from "./image/list_images.ts";
import { pullImage } from "./image/pull_image.ts";
import { removeImage } from "./image/remove_image.ts";
import { streamImages } from "./image/stream_images.ts";

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

/** A unary handler for method `M`. */
export type Unary<M extends MethodDef> = (
  req: Decoded<M["requestType"]>,
  ctx: HandlerContext,
) => Promise<Encoded<M["responseType"]>>;

/** A server-streaming handler for method `M`. */
export type ServerStream<M extends MethodDef> = (
  req: Decoded<M["requestType"]>,
  ctx: HandlerContext,
  send: (msg: Encoded<M["responseType"]> | PreEncoded) => Promise<void>,
) => Promise<void>;

/** Handlers keyed by the generated method keys (`version`, `runPodSandbox`, …). */
export type HandlersOf<D extends Methods> = {
  [K in keyof D]?: D[K]["responseStream"] extends true ? ServerStream<D[K]> : Unary<D[K]>;
};

/** RuntimeService handlers. */
export type RuntimeHandlers = HandlersOf<typeof RuntimeServiceDefinition.methods>;
/** ImageService handlers. */
export type ImageHandlers = HandlersOf<typeof ImageServiceDefinition.methods>;

/** What the handlers call. */
export interface CriDeps {
  config: Config;
  /** The runtime's state, which the operations take as their first argument. */
  core: RuntimeCore;
  stats: StatsService;
  streaming: StreamingServer;
  images: ImageService;
  /** Readiness and verbose info of Status. */
  status: Omit<StatusDeps, "config" | "handlers">;
  /** UpdateRuntimeConfig's pod CIDR goes to networking. */
  setPodCidr(cidr: string): void;
}

/** RPC → handler: each RuntimeService RPC and the file that serves it. */
export function runtimeHandlers(d: CriDeps, log: Logger): RuntimeHandlers {
  const { core, stats, streaming } = d;
  const limits = streamLimits(d.config.limits.maxSendMessageBytes);
  return {
    version,
    // The handlers are read at call time (the table is also built without a core, by tests).
    status: status({
      config: d.config,
      ...d.status,
      get handlers() {
        return d.core.handlers;
      },
    }),
    runtimeConfig: runtimeConfig(d.config),
    updateRuntimeConfig: updateRuntimeConfig(d.setPodCidr, log),
    runPodSandbox: runPodSandbox(core),
    stopPodSandbox: stopPodSandbox(core),
    removePodSandbox: removePodSandbox(core),
    podSandboxStatus: podSandboxStatus(core),
    listPodSandbox: listPodSandbox(core),
    streamPodSandboxes: streamPodSandboxes(core, limits),
    portForward: portForward(core, streaming),
    podSandboxStats: podSandboxStats(stats),
    listPodSandboxStats: listPodSandboxStats(stats),
    streamPodSandboxStats: streamPodSandboxStats(stats, limits),
    createContainer: createContainer(core),
    startContainer: startContainer(core),
    stopContainer: stopContainer(core),
    removeContainer: removeContainer(core),
    containerStatus: containerStatus(core),
    listContainers: listContainers(core),
    streamContainers: streamContainers(core, limits),
    execSync: execSync(core),
    exec: exec(core, streaming),
    attach: attach(core, streaming),
    updateContainerResources: updateContainerResources(core),
    updatePodSandboxResources: updatePodSandboxResources(core),
    reopenContainerLog: reopenContainerLog(core),
    getContainerEvents: getContainerEvents(core),
    containerStats: containerStats(stats),
    listContainerStats: listContainerStats(stats),
    checkpointContainer: checkpointContainer(core),
    checkpointPod: checkpointPod(core),
    restorePod: restorePod(core),
    streamContainerStats: streamContainerStats(stats, limits),
    listMetricDescriptors: listMetricDescriptors(stats),
    listPodSandboxMetrics: listPodSandboxMetrics(stats),
    streamPodSandboxMetrics: streamPodSandboxMetrics(stats, limits),
  };
}

/** RPC → handler: each ImageService RPC and the file that serves it. */
export function imageHandlers(images: ImageService, limits: BatchLimits): ImageHandlers {
  return {
    listImages: (req, ctx) => listImages(images, req, ctx),
    imageStatus: (req, ctx) => imageStatus(images, req, ctx),
    pullImage: (req, ctx) => pullImage(images, req, ctx),
    removeImage: (req, ctx) => removeImage(images, req, ctx),
    imageFsInfo: (req, ctx) => imageFsInfo(images, req, ctx),
    streamImages: (req, ctx, send) => streamImages(images, req, ctx, send, limits),
  };
}

/** Options of {@link createCriServer}. */
export interface CriServerOptions {
  logger: Logger;
  maxRecvMessageBytes: number;
  maxSendMessageBytes: number;
  maxConcurrentCalls: number;
  /** What the handlers call. */
  deps: CriDeps;
  /**
   * Sees every call end: its `/<service>/<method>` path (as the client sent it), gRPC code
   * and duration (the agent's metrics). Runs on the call's path: keep it cheap.
   */
  onCall?: (path: string, code: number, seconds: number) => void;
}

/** The `/<service>/<method>` path of every RPC the table serves. */
export function criRpcPaths(): string[] {
  return [RuntimeServiceDefinition, ImageServiceDefinition].flatMap((def) =>
    Object.values(def.methods as Methods).map((m) => `/${def.fullName}/${m.name}`)
  );
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
      opts.onCall?.(method, code, durationMs / 1000);
      const rpc = method.slice(method.lastIndexOf("/") + 1);
      const fields = { rpc, code: Status[code] ?? code, ms: Math.round(durationMs * 10) / 10 };
      if (code === Status.INTERNAL || code === Status.UNKNOWN) {
        log.error("call failed", { ...fields, err: message });
      } else if (log.enabled("debug")) {
        log.debug("call", message ? { ...fields, err: message } : fields);
      }
    },
  });
  const runtime = runtimeHandlers(opts.deps, log);
  const max = opts.maxSendMessageBytes;
  register(server, RuntimeServiceDefinition, runtime as Record<string, unknown>, log, max);
  const images = imageHandlers(opts.deps.images, streamLimits(max));
  register(server, ImageServiceDefinition, images, log, max);
  return server;
}

function register(
  server: GrpcServer,
  def: { readonly fullName: string; readonly methods: Methods },
  handlers: object,
  log: Logger,
  maxSendMessageBytes: number,
): void {
  for (const [key, m] of Object.entries(def.methods)) {
    const path = `/${def.fullName}/${m.name}`;
    const req = { decode: (b: Uint8Array) => m.requestType.decode(b) };
    const res = {
      encode: (msg: unknown) => {
        if (msg instanceof PreEncoded) return msg.bytes;
        const bytes = m.responseType.encode(msg as never).finish();
        if (bytes.length > maxSendMessageBytes && !m.responseStream) {
          // A List too big to send names its Stream RPC rather than failing bare.
          const hint = oversizeMessage(m.name, msg, bytes.length, maxSendMessageBytes);
          if (hint) throw new StatusError(Status.RESOURCE_EXHAUSTED, hint);
        }
        return bytes;
      },
    };
    const codecs = {
      req: { ...req, encode: (msg: unknown) => m.requestType.encode(msg as never).finish() },
      res: { ...res, decode: (b: Uint8Array) => m.responseType.decode(b) },
    };
    const handler = (handlers as Record<string, unknown>)[key];
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
