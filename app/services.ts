/**
 * The composition root: builds every service from the config and wires the CRI handlers.
 * Nothing registers itself at import time; this file is where the parts meet.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { createCriServer, type ImageHandlers, type RuntimeHandlers } from "../cri/server.ts";
import type { GrpcServer } from "../cri/grpc/mod.ts";
import { version } from "../cri/runtime/version.ts";
import { type Readiness, status } from "../cri/runtime/status.ts";
import { probeRuntimeBinary } from "./probe.ts";

/** The running agent's parts, as the lifecycle sees them. */
export interface Services {
  server: GrpcServer;
  /** Runs once the socket accepts calls (READY=1 to systemd). */
  afterListen(): Promise<void>;
  /** Runs when a stop signal arrives, before the server drains (STOPPING=1). */
  beforeShutdown(): Promise<void>;
  /** Releases everything; shims and containers keep running. */
  close(): Promise<void>;
}

/** Builds the services for `config`. */
export async function buildServices(config: Config, log: Logger): Promise<Services> {
  await Deno.mkdir(config.root, { recursive: true, mode: 0o711 });
  await Deno.mkdir(config.state, { recursive: true, mode: 0o711 });

  const runtimeReady = cached(10_000, async (): Promise<Readiness> => {
    const probe = await probeRuntimeBinary(config.runtime.binary);
    return probe.ok
      ? { ready: true }
      : { ready: false, reason: "RuntimeBinaryUnavailable", message: probe.message };
  });
  const networkReady = (): Promise<Readiness> =>
    Promise.resolve({
      ready: false,
      reason: "NetworkPluginNotReady",
      message: "pod networking is not available in this build",
    });

  const runtime: RuntimeHandlers = {
    version,
    status: status({ config, runtimeReady, networkReady }),
  };
  const image: ImageHandlers = {};

  const server = createCriServer({
    logger: log,
    maxRecvMessageBytes: config.limits.maxRecvMessageBytes,
    maxSendMessageBytes: config.limits.maxSendMessageBytes,
    maxConcurrentCalls: config.limits.maxConcurrentCalls,
    runtime,
    image,
  });

  return {
    server,
    afterListen: () => Promise.resolve(),
    beforeShutdown: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** Memoises an async probe for `ms` milliseconds. */
function cached<T>(ms: number, fn: () => Promise<T>): () => Promise<T> {
  let at = -Infinity;
  let value: Promise<T> | undefined;
  return () => {
    const now = performance.now();
    if (!value || now - at > ms) {
      at = now;
      value = fn();
    }
    return value;
  };
}
