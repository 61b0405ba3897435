/**
 * The streaming server behind Exec, Attach and PortForward: an HTTP/1.1 listener on which
 * each single-use URL is upgraded to SPDY/3.1 or WebSocket and served.
 *
 * `Deno.serve` cannot hand over the socket of a non-WebSocket upgrade, and SPDY is what the
 * kubelet and crictl speak by default, so the listener is a plain `Deno.listen` with a
 * minimal request-head parser; both upgrades are handled here, WebSocket framing included.
 *
 * Responses follow the kubelet library (`cri/streaming/server.go`): unknown path, unknown,
 * expired or reused token, or a token for another endpoint: 404; a protocol the client and
 * server do not share: 403 (with `X-Accepted-Stream-Protocol-Versions` for SPDY); a request
 * that is not an upgrade: 400.
 *
 * Every address that can reach the port can connect, so connections are capped before a
 * byte is read (`_admission.ts`): in total (503), per source address (429), and those that
 * have not yet presented a valid token (503), each refusal answered with its status and
 * logged once per reason and minute. A connection has {@link DEFAULT_HEAD_TIMEOUT_MS} to
 * send its whole request head, however slowly it trickles (then 408 and closed): the
 * kubelet sends its head at once.
 *
 * @module
 */
import { failedPrecondition, invalidArgument, messageOf, wrap } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { Admission, isRefusal, type Refusal, RefusalLog, type Ticket } from "./_admission.ts";
import { runCommand } from "./_command.ts";
import {
  formatResponse,
  headerHasToken,
  headerList,
  HttpError,
  parseRequestHead,
  type RequestHead,
} from "../lib/http1.ts";
import {
  PORTFORWARD_PROTOCOL,
  runWsPortForward,
  SpdyPortForward,
  WS_PORTFORWARD_PROTOCOLS,
} from "./_portforward.ts";
import {
  REMOTE_COMMAND_PROTOCOLS,
  SpdyCommandStreams,
  STREAM_CREATION_TIMEOUT_MS,
} from "./_spdy_command.ts";
import { isTokenShaped, type StreamRequest, TokenCache } from "./_tokens.ts";
import type { StreamingBackend } from "./_types.ts";
import { channelCodec, WS_COMMAND_PROTOCOLS, wsCommandChannels } from "./_ws_command.ts";
import { BufferedReader, connTransport, type Transport } from "../lib/io/mod.ts";
import { SpdySession } from "../lib/spdy/mod.ts";
import { acceptKey, CloseCode, isValidKey, WebSocketConnection } from "../lib/websocket/mod.ts";

/** The WebSocket subprotocol prefix of SPDY tunnelled over WebSocket (client-go). */
const SPDY_TUNNEL_PREFIX = "SPDY/3.1+";
/** Largest request head accepted. */
const MAX_HEAD_BYTES = 16 * 1024;
/** How long a protocol error response may take to flush before the socket closes. */
const ERROR_GRACE_MS = 1_000;
/** Default: a connection must send its whole request head within this time. */
export const DEFAULT_HEAD_TIMEOUT_MS = 5_000;
/** Default cap on connections open at once. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Default cap on connections open at once from one source address. */
export const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 512;
/** Default cap on connections that have not yet presented a valid token. */
export const DEFAULT_MAX_UNAUTHENTICATED = 128;
/** Refused connections being answered at once; beyond it they are closed without an answer. */
const MAX_REFUSING = 64;

/** Options of a {@link StreamingServer}. */
export interface StreamingServerOptions {
  /** Address to bind: "127.0.0.1" (the default configuration) or any host address. */
  readonly address: string;
  /** TCP port; 0 picks a free one at {@link StreamingServer.start}. */
  readonly port: number;
  /** How long a streaming URL stays valid (single use). */
  readonly tokenTtlMs: number;
  /** A session with no traffic for this long is closed. 0: never. */
  readonly idleTimeoutMs: number;
  /** Runs the commands and dials the ports. */
  readonly backend: StreamingBackend;
  readonly logger: Logger;
  /** How long a SPDY client has to open its streams after the upgrade (default 30 s). */
  readonly streamCreationTimeoutMs?: number;
  /** Unused tokens outstanding at once (default 1000, as the kubelet library). */
  readonly maxTokens?: number;
  /** Connections open at once (default {@link DEFAULT_MAX_CONNECTIONS}); more get 503. */
  readonly maxConnections?: number;
  /** Connections open at once from one address (default {@link DEFAULT_MAX_CONNECTIONS_PER_SOURCE}); more get 429. */
  readonly maxConnectionsPerSource?: number;
  /** Connections not yet past their token (default {@link DEFAULT_MAX_UNAUTHENTICATED}); more get 503. */
  readonly maxUnauthenticatedConnections?: number;
  /** Time to send the whole request head (default {@link DEFAULT_HEAD_TIMEOUT_MS}); then 408. */
  readonly headTimeoutMs?: number;
}

/** A connection being served: how to end it, when it is over, and its hold on the caps. */
interface Served {
  abort(): void;
  done: Promise<void>;
  readonly ticket: Ticket;
}

/** What an exec URL runs. */
export interface ExecUrlRequest {
  readonly containerId: string;
  readonly cmd: readonly string[];
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** What an attach URL attaches to. */
export interface AttachUrlRequest {
  readonly containerId: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
}

/** What a port-forward URL forwards to. */
export interface PortForwardUrlRequest {
  readonly podSandboxId: string;
  /** Ports for WebSocket clients; SPDY clients name a port per connection. */
  readonly ports: readonly number[];
}

/** The streaming server. One per agent. */
export class StreamingServer {
  readonly #opts: StreamingServerOptions;
  readonly #log: Logger;
  readonly #tokens: TokenCache;
  readonly #admission: Admission;
  readonly #refusals: RefusalLog;
  readonly #headTimeoutMs: number;
  readonly #active = new Set<{ abort(): void; done: Promise<void> }>();
  #refusing = 0;
  /** Aborted by {@link close}: sessions end without their usual grace. */
  readonly #shutdown = new AbortController();
  #listener: Deno.Listener | undefined;
  #baseUrl: string | undefined;
  #accepting: Promise<void> | undefined;
  #closing = false;

  /** A server, not yet listening. */
  constructor(opts: StreamingServerOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
      throw invalidArgument(`stream port ${opts.port} is not in 0..65535`);
    }
    this.#opts = opts;
    this.#log = opts.logger.with({ component: "streaming" });
    this.#tokens = new TokenCache({
      ttlMs: opts.tokenTtlMs,
      ...(opts.maxTokens !== undefined ? { maxInFlight: opts.maxTokens } : {}),
    });
    const limits = {
      maxConnections: opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      maxConnectionsPerSource: opts.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
      maxUnauthenticatedConnections: opts.maxUnauthenticatedConnections ??
        DEFAULT_MAX_UNAUTHENTICATED,
      headTimeoutMs: opts.headTimeoutMs ?? DEFAULT_HEAD_TIMEOUT_MS,
    };
    for (const [k, v] of Object.entries(limits)) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw invalidArgument(`streaming server option ${k} must be a positive integer, got ${v}`);
      }
    }
    this.#admission = new Admission({
      total: limits.maxConnections,
      perSource: limits.maxConnectionsPerSource,
      unauthenticated: limits.maxUnauthenticatedConnections,
    });
    this.#refusals = new RefusalLog(this.#log);
    this.#headTimeoutMs = limits.headTimeoutMs;
  }

  /** Connections open now: in total, and not yet past their token. */
  get connections(): { total: number; unauthenticated: number } {
    return this.#admission.counts;
  }

  /** Binds the listener and starts accepting connections. */
  // deno-lint-ignore require-await
  async start(): Promise<void> {
    if (this.#listener) return;
    if (this.#closing) throw failedPrecondition("streaming server is closed");
    try {
      this.#listener = Deno.listen({
        hostname: this.#opts.address,
        port: this.#opts.port,
        transport: "tcp",
      });
    } catch (err) {
      throw wrap(err, `cannot listen on ${this.#opts.address}:${this.#opts.port} for streaming`);
    }
    const addr = this.#listener.addr as Deno.NetAddr;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.#baseUrl = `http://${host}:${addr.port}`;
    this.#log.info("streaming server listening", { url: this.#baseUrl });
    this.#accepting = this.#acceptLoop(this.#listener);
  }

  /** `http://ADDRESS:PORT`, absolute (a scheme-less URL broke cri-dockerd under k8s 1.36). */
  get baseUrl(): string {
    if (this.#baseUrl === undefined) throw failedPrecondition("streaming server is not started");
    return this.#baseUrl;
  }

  /** A single-use URL for an exec; invalid-argument for an impossible request. */
  execUrl(req: ExecUrlRequest): string {
    checkStdio(req);
    if (req.cmd.length === 0) throw invalidArgument("cmd must not be empty");
    return this.#url("exec", {
      kind: "exec",
      containerId: req.containerId,
      cmd: [...req.cmd],
      tty: req.tty,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
    });
  }

  /** A single-use URL for an attach; invalid-argument for an impossible request. */
  attachUrl(req: AttachUrlRequest): string {
    checkStdio(req);
    return this.#url("attach", {
      kind: "attach",
      containerId: req.containerId,
      tty: req.tty,
      stdin: req.stdin,
      stdout: req.stdout,
      stderr: req.stderr,
    });
  }

  /** A single-use URL for a port forward; invalid-argument for a bad pod id or port. */
  portForwardUrl(req: PortForwardUrlRequest): string {
    if (req.podSandboxId === "") throw invalidArgument("pod_sandbox_id must not be empty");
    for (const p of req.ports) checkPort(p, "port");
    return this.#url("portforward", {
      kind: "portforward",
      podSandboxId: req.podSandboxId,
      ports: [...req.ports],
    });
  }

  /**
   * Stops listening, refuses outstanding tokens, and ends every session at once (an exec'd
   * process is not given the grace a vanished client's gets).
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#tokens.clear();
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    await this.#accepting;
    this.#shutdown.abort();
    const sessions = [...this.#active];
    for (const s of sessions) s.abort();
    await Promise.allSettled(sessions.map((s) => s.done));
    this.#refusals.flush();
  }

  #url(path: string, req: StreamRequest): string {
    const base = this.baseUrl;
    return `${base}/${path}/${this.#tokens.insert(req)}`;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#closing || err instanceof Deno.errors.BadResource) return;
        this.#log.warn("streaming accept failed", { error: messageOf(err) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.#serve(conn);
    }
  }

  #serve(conn: Deno.Conn): void {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const admitted = this.#admission.admit(remote.hostname);
    if (isRefusal(admitted)) {
      this.#refuse(conn, admitted, remote.hostname);
      return;
    }
    const transport = connTransport(conn);
    const log = this.#log.with({ remote: `${remote.hostname}:${remote.port}` });
    const entry: Served = {
      abort: () => transport.close(),
      done: Promise.resolve(),
      ticket: admitted,
    };
    entry.done = (async () => {
      try {
        (conn as Deno.TcpConn).setNoDelay(true);
        await this.#handle(transport, entry, log);
      } catch (err) {
        log.warn("streaming connection failed", { error: messageOf(err) });
      } finally {
        transport.close();
        admitted.release();
        this.#active.delete(entry);
      }
    })();
    this.#active.add(entry);
    if (this.#closing) entry.abort();
  }

  /**
   * Answers a connection over a cap with its status, without reading its request, and
   * closes it. Past {@link MAX_REFUSING} answers in progress, closes it at once.
   */
  #refuse(conn: Deno.Conn, r: Refusal, source: string): void {
    this.#refusals.note(r, source);
    if (this.#refusing >= MAX_REFUSING || this.#closing) {
      conn.close();
      return;
    }
    this.#refusing++;
    const transport = connTransport(conn);
    const entry = { abort: () => transport.close(), done: Promise.resolve() };
    entry.done = (async () => {
      try {
        await respond(
          transport,
          new HttpError(r.status, r.message, [["Retry-After", "1"]]),
          true,
        );
      } finally {
        transport.close();
        this.#refusing--;
        this.#active.delete(entry);
      }
    })();
    this.#active.add(entry);
  }

  async #handle(
    transport: Transport,
    entry: Served,
    log: Logger,
  ): Promise<void> {
    const reader = new BufferedReader(() => transport.read());
    let head: Uint8Array | null | "timeout";
    // One deadline for the whole head, however it trickles in (slowloris).
    let headTimer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((r) => {
      headTimer = setTimeout(() => r("timeout"), this.#headTimeoutMs);
    });
    const reading = reader.readHead(MAX_HEAD_BYTES);
    reading.catch(() => {}); // settles after a timeout too, when the socket closes
    try {
      head = await Promise.race([reading, expired]);
    } catch (err) {
      if (err instanceof RangeError) {
        await respond(transport, new HttpError(431, err.message));
      }
      return;
    } finally {
      clearTimeout(headTimer);
    }
    if (head === "timeout") {
      log.debug("streaming request head not received in time", { ms: this.#headTimeoutMs });
      await respond(
        transport,
        new HttpError(408, `request head not received within ${this.#headTimeoutMs} ms`),
      );
      return;
    }
    if (head === null) return;
    try {
      const req = parseRequestHead(head);
      await this.#route(req, reader, transport, entry, log);
    } catch (err) {
      if (err instanceof HttpError) {
        log.info("streaming request refused", { status: err.status, reason: err.message });
        await respond(transport, err);
        return;
      }
      throw err;
    }
  }

  async #route(
    req: RequestHead,
    reader: BufferedReader,
    transport: Transport,
    entry: Served,
    log: Logger,
  ): Promise<void> {
    const m = /^\/(exec|attach|portforward)\/([^/]+)$/.exec(req.path);
    if (!m) throw new HttpError(404, "404 page not found");
    if (req.method !== "GET" && req.method !== "POST") {
      throw new HttpError(405, `method ${req.method} is not allowed`, [["Allow", "GET, POST"]]);
    }
    const endpoint = m[1]!;
    const token = m[2]!;
    const cached = isTokenShaped(token) ? this.#tokens.consume(token) : undefined;
    if (!cached) {
      throw new HttpError(404, "streaming token not found: unknown, expired or already used");
    }
    if (cached.kind !== endpoint) {
      throw new HttpError(404, `streaming token is for ${cached.kind}, not ${endpoint}`);
    }
    entry.ticket.authenticated();
    const slog = log.with(
      cached.kind === "portforward"
        ? { session: "portforward", podId: cached.podSandboxId }
        : { session: cached.kind, containerId: cached.containerId },
    );
    const upgrade = req.headers.get("upgrade")?.toLowerCase() ?? "";
    const isUpgrade = headerHasToken(req.headers, "connection", "upgrade");
    if (isUpgrade && upgrade === "websocket") {
      return await this.#serveWebSocket(req, cached, reader, transport, entry, slog);
    }
    if (!isUpgrade || !upgrade.split(",").some((u) => u.trim() === "spdy/3.1")) {
      throw new HttpError(400, "unable to upgrade: missing upgrade headers in request");
    }
    return await this.#serveSpdy(req, cached, reader, transport, entry, slog);
  }

  async #serveSpdy(
    req: RequestHead,
    cached: StreamRequest,
    reader: BufferedReader,
    transport: Transport,
    entry: { abort(): void },
    log: Logger,
  ): Promise<void> {
    const supported: readonly string[] = cached.kind === "portforward"
      ? [PORTFORWARD_PROTOCOL]
      : REMOTE_COMMAND_PROTOCOLS;
    const offered = headerList(req.headers, "x-stream-protocol-version");
    if (offered.length === 0) {
      throw new HttpError(400, "unable to upgrade: X-Stream-Protocol-Version is required");
    }
    const protocol = offered.find((p) => supported.includes(p));
    if (protocol === undefined) {
      throw new HttpError(
        403,
        `unable to upgrade: unable to negotiate protocol: client supports [${
          offered.join(" ")
        }], server accepts [${supported.join(" ")}]`,
        supported.map((p) => ["X-Accepted-Stream-Protocol-Versions", p]),
      );
    }
    const idleTimeoutMs = this.#opts.idleTimeoutMs;
    const creationMs = this.#opts.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS;
    const slog = log.with({ protocol });
    const accept = formatResponse(101, [
      ["Connection", "Upgrade"],
      ["Upgrade", "SPDY/3.1"],
      ["X-Stream-Protocol-Version", protocol],
    ]);
    if (cached.kind === "portforward") {
      const pf = new SpdyPortForward(cached.podSandboxId, this.#opts.backend, slog, creationMs);
      const session = new SpdySession(reader, transport, {
        role: "server",
        onStream: pf.onStream,
        idleTimeoutMs,
        logger: slog,
      });
      entry.abort = () => session.close("server closing");
      await transport.write(accept);
      session.start();
      slog.debug("port-forward session started");
      await pf.run(session);
      slog.debug("port-forward session ended", { reason: session.closeReason });
      return;
    }
    const streams = new SpdyCommandStreams(protocol, cached, slog);
    const session = new SpdySession(reader, transport, {
      role: "server",
      onStream: streams.onStream,
      idleTimeoutMs,
      logger: slog,
    });
    entry.abort = () => session.close("server closing");
    await transport.write(accept);
    session.start();
    const channels = await streams.wait(session, creationMs);
    if (!channels) {
      session.close("streams not created");
      return;
    }
    await this.#runCommand(cached, channels, slog);
  }

  async #serveWebSocket(
    req: RequestHead,
    cached: StreamRequest,
    reader: BufferedReader,
    transport: Transport,
    entry: { abort(): void },
    log: Logger,
  ): Promise<void> {
    if (req.method !== "GET") {
      throw new HttpError(405, "a WebSocket upgrade must use GET", [["Allow", "GET"]]);
    }
    if (req.headers.get("sec-websocket-version") !== "13") {
      throw new HttpError(426, "unsupported WebSocket version (want 13)", [
        ["Sec-WebSocket-Version", "13"],
      ]);
    }
    const key = req.headers.get("sec-websocket-key") ?? "";
    if (!isValidKey(key)) throw new HttpError(400, "missing or malformed Sec-WebSocket-Key");

    let ports: number[] = [];
    let supported: readonly string[];
    if (cached.kind === "portforward") {
      supported = [...WS_PORTFORWARD_PROTOCOLS, SPDY_TUNNEL_PREFIX + PORTFORWARD_PROTOCOL];
      // Ports come from the CRI request; a client may name them in the query instead.
      ports = cached.ports.length > 0
        ? [...cached.ports]
        : req.query.getAll("port").map((p) => parsePortParam(p));
    } else {
      supported = WS_COMMAND_PROTOCOLS;
    }
    const offered = headerList(req.headers, "sec-websocket-protocol");
    const protocol = offered.length === 0 ? "" : offered.find((p) => supported.includes(p));
    if (protocol === undefined) {
      throw new HttpError(
        403,
        `requested protocol(s) are not supported: [${offered.join(" ")}]; supports [${
          supported.join(" ")
        }]`,
      );
    }
    const tunnel = protocol === SPDY_TUNNEL_PREFIX + PORTFORWARD_PROTOCOL;
    if (cached.kind === "portforward" && !tunnel && ports.length === 0) {
      throw new HttpError(400, 'query parameter "port" is required');
    }
    const headers: [string, string][] = [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Accept", await acceptKey(key)],
    ];
    if (protocol !== "") headers.push(["Sec-WebSocket-Protocol", protocol]);
    const slog = log.with({ protocol: protocol || "(none)", transport: "websocket" });
    const ws = new WebSocketConnection(reader, transport, {
      idleTimeoutMs: tunnel ? 0 : this.#opts.idleTimeoutMs,
      logger: slog,
    });
    entry.abort = () => ws.abort("server closing");
    await transport.write(formatResponse(101, headers));
    ws.start();

    if (cached.kind !== "portforward") {
      const channels = wsCommandChannels(ws, protocol, cached, slog);
      await this.#runCommand(cached, channels, slog);
      return;
    }
    if (!tunnel) {
      slog.debug("port-forward session started", { ports });
      await runWsPortForward(
        ws,
        channelCodec(protocol),
        ports,
        cached.podSandboxId,
        this.#opts.backend,
        slog,
      );
      return;
    }
    // SPDY tunnelled through WebSocket binary messages (crictl --transport websocket).
    const inner = wsTransport(ws);
    const pf = new SpdyPortForward(
      cached.podSandboxId,
      this.#opts.backend,
      slog,
      this.#opts.streamCreationTimeoutMs ?? STREAM_CREATION_TIMEOUT_MS,
    );
    const session = new SpdySession(new BufferedReader(() => inner.read()), inner, {
      role: "server",
      onStream: pf.onStream,
      idleTimeoutMs: this.#opts.idleTimeoutMs,
      logger: slog,
    });
    entry.abort = () => session.close("server closing");
    session.start();
    await pf.run(session);
  }

  async #runCommand(
    cached: Exclude<StreamRequest, { kind: "portforward" }>,
    channels: Parameters<typeof runCommand>[0],
    log: Logger,
  ): Promise<void> {
    const backend = this.#opts.backend;
    const stdio = {
      tty: cached.tty,
      stdin: cached.stdin,
      stdout: cached.stdout,
      stderr: cached.stderr,
    };
    log.debug(`${cached.kind} session started`);
    if (cached.kind === "exec") {
      await runCommand(
        channels,
        { kind: "exec", cmd: cached.cmd },
        () => backend.exec(cached.containerId, { cmd: [...cached.cmd], ...stdio }),
        log,
        { shutdown: this.#shutdown.signal },
      );
    } else {
      await runCommand(
        channels,
        { kind: "attach" },
        () => backend.attach(cached.containerId, stdio),
        log,
        { shutdown: this.#shutdown.signal },
      );
    }
    log.debug(`${cached.kind} session ended`);
  }
}

function checkStdio(req: {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}): void {
  if (req.containerId === "") throw invalidArgument("container_id must not be empty");
  if (req.tty && req.stderr) {
    // A tty has one output: stderr cannot be told apart from stdout.
    throw invalidArgument("tty and stderr cannot both be true");
  }
  if (!req.stdin && !req.stdout && !req.stderr) {
    throw invalidArgument("one of stdin, stdout, or stderr must be set");
  }
}

function checkPort(p: number, field: string): void {
  if (!Number.isInteger(p) || p < 1 || p > 65535) {
    throw invalidArgument(`${field} ${p} is not a TCP port (1-65535)`);
  }
}

function parsePortParam(s: string): number {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new HttpError(400, `unable to parse "${s}" as a port`);
  return n;
}

/**
 * Writes an error response and ends our side. With `drain`, also reads (and drops) what the
 * client sent until it closes, within the same grace: closing a socket with unread input
 * resets it, and a reset can destroy the response before the client reads it.
 */
async function respond(transport: Transport, err: HttpError, drain = false): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const write = transport.write(formatResponse(err.status, err.headers, err.message + "\n"))
    .then(() => transport.closeWrite())
    .then(async () => {
      if (!drain) return;
      let left = MAX_HEAD_BYTES * 4;
      for (let b = await transport.read(); b !== null && left > 0; b = await transport.read()) {
        left -= b.byteLength;
      }
    })
    .catch(() => {});
  const grace = new Promise<void>((r) => (timer = setTimeout(r, ERROR_GRACE_MS)));
  await Promise.race([write, grace]);
  clearTimeout(timer);
}

/** A WebSocket's binary messages as a byte transport (for the SPDY tunnel). */
function wsTransport(ws: WebSocketConnection): Transport {
  const reader = ws.messages.getReader();
  return {
    async read() {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return null;
        if (!value.binary) {
          ws.abort("text message inside a SPDY tunnel");
          return null;
        }
        if (value.data.byteLength > 0) return value.data;
      }
    },
    write: (data) => ws.send(data, true),
    closeWrite: () => ws.close(CloseCode.Normal),
    close: () => ws.abort("tunnel closed"),
  };
}
