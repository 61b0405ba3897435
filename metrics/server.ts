/**
 * The `/metrics` endpoint: HTTP on a loopback TCP address or a unix socket, as
 * `[metrics] address` says (`config/mod.ts` has already refused a non-loopback address the
 * operator did not allow). GET /metrics only; anything else is 404 or 405.
 *
 * {@link MetricsEndpoint.reconfigure} rebinds to a new address in place, for the SIGHUP
 * reload: the new address is bound before the old one is closed, so a bad new address
 * leaves the endpoint serving where it was.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { invalidArgument, wrap } from "../errors/mod.ts";
import { type ListenAddress, parseListenAddress } from "../lib/listen_address.ts";

/** What the endpoint serves. */
export interface Exposition {
  expose(): Promise<string>;
  readonly contentType: string;
}

/** Options of {@link MetricsEndpoint}. */
export interface MetricsEndpointOptions {
  metrics: Exposition;
  logger: Logger;
  /** Called on a unix socket once bound (mode and group; the agent's socket rules). */
  secureUnixSocket?: (path: string) => Promise<void>;
}

interface Bound {
  address: string;
  server: Deno.HttpServer<Deno.NetAddr> | Deno.HttpServer<Deno.UnixAddr>;
  unixPath?: string;
  /** What clients connect to: `127.0.0.1:9101` or the socket path. */
  endpoint: string;
}

/** The metrics HTTP endpoint. Starts unbound; {@link reconfigure} binds it. */
export class MetricsEndpoint {
  readonly #opts: MetricsEndpointOptions;
  #bound: Bound | undefined;

  constructor(opts: MetricsEndpointOptions) {
    this.#opts = opts;
  }

  /** Where it serves now (`host:port` or a socket path), or undefined when off. */
  get endpoint(): string | undefined {
    return this.#bound?.endpoint;
  }

  /**
   * Serves on `address` (empty: stops serving). The same address again is a no-op. On a
   * bind failure the endpoint keeps serving where it was and the error is thrown.
   */
  async reconfigure(address: string): Promise<void> {
    if (address === (this.#bound?.address ?? "")) return;
    const old = this.#bound;
    if (address === "") {
      this.#bound = undefined;
      if (old) await this.#stop(old);
      this.#opts.logger.info("metrics endpoint stopped");
      return;
    }
    const parsed = parseListenAddress(address);
    if (typeof parsed === "string") throw invalidArgument(`"metrics.address": ${parsed}`);
    // Rebinding the same unix path needs the old listener gone first.
    if (old?.unixPath && parsed.kind === "unix" && parsed.path === old.unixPath) {
      this.#bound = undefined;
      await this.#stop(old);
      this.#bound = await this.#bind(address, parsed);
    } else {
      this.#bound = await this.#bind(address, parsed);
      if (old) await this.#stop(old);
    }
    this.#opts.logger.info("serving Prometheus metrics", {
      endpoint: this.#bound.endpoint,
      path: "/metrics",
    });
  }

  /** Stops serving. */
  async close(): Promise<void> {
    await this.reconfigure("");
  }

  async #bind(address: string, a: ListenAddress): Promise<Bound> {
    const handler = (req: Request) => this.#handle(req);
    const onError = (err: unknown) => {
      this.#opts.logger.warn("metrics scrape failed", { err });
      return new Response("cannot collect metrics\n", { status: 500 });
    };
    try {
      if (a.kind === "tcp") {
        const server = Deno.serve(
          { hostname: a.hostname, port: a.port, onListen: () => {}, onError },
          handler,
        );
        const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
        return { address, server, endpoint: `${host}:${server.addr.port}` };
      }
      await removeStaleSocket(a.path);
      const server = Deno.serve({ path: a.path, onListen: () => {}, onError }, handler);
      await this.#opts.secureUnixSocket?.(a.path);
      return { address, server, unixPath: a.path, endpoint: a.path };
    } catch (err) {
      throw wrap(err, `cannot serve metrics on "${address}" (metrics.address)`);
    }
  }

  async #stop(b: Bound): Promise<void> {
    await b.server.shutdown();
    if (b.unixPath) await Deno.remove(b.unixPath).catch(() => {});
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url, "http://metrics");
    if (url.pathname !== "/metrics") return new Response("not found\n", { status: 404 });
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    const body = await this.#opts.metrics.expose();
    return new Response(req.method === "HEAD" ? null : body, {
      headers: { "content-type": this.#opts.metrics.contentType },
    });
  }
}

/** A socket file left by an agent that crashed; anything else at the path is refused. */
async function removeStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw invalidArgument(`"metrics.address": ${path} exists and is not a socket`);
  }
  await Deno.remove(path);
}
