/**
 * A SPDY/3.1 client for tests, speaking the remote-command and port-forward protocols the
 * way client-go does (`tools/remotecommand`, `tools/portforward`): the same upgrade request,
 * the same stream order (error, stdin, stdout, stderr, resize), the same headers, the same
 * half-closes.
 *
 * @module
 */
import { BufferedReader, connTransport, type Transport } from "../../lib/io/mod.ts";
import { SpdySession, type SpdyStream } from "../../lib/spdy/mod.ts";
import { acceptKey, encodeWsFrame, Opcode, readWsFrame } from "../../lib/websocket/mod.ts";

/** An HTTP response head (and body, when it was not an upgrade). */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** The server answered with something other than 101 Switching Protocols. */
export class UpgradeRefused extends Error {
  /** The response. */
  readonly response: HttpResponse;
  /** Builds the error. */
  constructor(response: HttpResponse) {
    super(`upgrade refused: ${response.status} ${response.body.trim()}`);
    this.name = "UpgradeRefused";
    this.response = response;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw HTTP/1.1 exchange on a fresh connection; the transport stays open after a 101. */
export async function httpRequest(
  url: string,
  init: { method?: string; headers?: [string, string][] } = {},
): Promise<{ response: HttpResponse; reader: BufferedReader; transport: Transport }> {
  const u = new URL(url);
  const conn = await Deno.connect({
    hostname: u.hostname.replace(/^\[|\]$/g, ""),
    port: Number(u.port),
  });
  conn.setNoDelay(true);
  const transport = connTransport(conn);
  try {
    let head = `${init.method ?? "POST"} ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n`;
    for (const [k, v] of init.headers ?? []) head += `${k}: ${v}\r\n`;
    head += "Content-Length: 0\r\n\r\n";
    await transport.write(enc.encode(head));
    const reader = new BufferedReader(() => transport.read());
    const raw = await reader.readHead(64 * 1024);
    if (raw === null) throw new Error(`connection closed before a response from ${url}`);
    const lines = dec.decode(raw).split("\r\n");
    const status = Number(lines[0]!.split(" ")[1]);
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(":");
      if (i > 0) headers.append(line.slice(0, i), line.slice(i + 1).trim());
    }
    let body = "";
    if (status !== 101) {
      const len = Number(headers.get("content-length") ?? "0");
      const bytes = len > 0 ? await reader.readExact(len, "the response body") : null;
      body = bytes ? dec.decode(bytes) : "";
      transport.close();
    }
    return { response: { status, headers, body }, reader, transport };
  } catch (err) {
    transport.close();
    throw err;
  }
}

/** A client-side SPDY connection after a successful upgrade. */
export class SpdyClient {
  /** The client session. */
  readonly session: SpdySession;
  /** The protocol the server chose (`X-Stream-Protocol-Version`). */
  readonly protocol: string;
  /** The 101 response. */
  readonly response: HttpResponse;

  private constructor(session: SpdySession, protocol: string, response: HttpResponse) {
    this.session = session;
    this.protocol = protocol;
    this.response = response;
  }

  /** Upgrades `url` to SPDY/3.1 offering `protocols` (client-go sends each as a header line). */
  static async dial(url: string, protocols: readonly string[]): Promise<SpdyClient> {
    const { response, reader, transport } = await httpRequest(url, {
      headers: [
        ["Connection", "Upgrade"],
        ["Upgrade", "SPDY/3.1"],
        ...protocols.map((p): [string, string] => ["X-Stream-Protocol-Version", p]),
      ],
    });
    if (response.status !== 101) throw new UpgradeRefused(response);
    const session = new SpdySession(reader, transport, { role: "client" });
    session.start();
    return new SpdyClient(
      session,
      response.headers.get("x-stream-protocol-version") ?? "",
      response,
    );
  }

  /** Closes the connection (client-go resets the streams and closes). */
  close(): void {
    this.session.close();
  }
}

/** Reads a stream incrementally as text (and keeps the bytes, for binary payloads). */
export class TextReader {
  #text = "";
  #chunks: Uint8Array[] = [];
  #done: Promise<void>;
  #waiters: (() => void)[] = [];

  /** Starts reading `readable` in the background. */
  constructor(readable: ReadableStream<Uint8Array>) {
    this.#done = (async () => {
      const d = new TextDecoder();
      try {
        for await (const c of readable) {
          this.#chunks.push(c);
          this.#text += d.decode(c, { stream: true });
          for (const w of this.#waiters.splice(0)) w();
        }
      } catch {
        // A reset stream ends like a closed one for a reader.
      } finally {
        for (const w of this.#waiters.splice(0)) w();
      }
    })();
  }

  /** Everything read so far. */
  get text(): string {
    return this.#text;
  }

  /** Every byte read so far. */
  get bytes(): Uint8Array {
    const out = new Uint8Array(this.#chunks.reduce((n, c) => n + c.byteLength, 0));
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  }

  /** Everything, once the stream has ended. */
  async all(): Promise<string> {
    await this.#done;
    return this.#text;
  }

  /** Waits until the text matches `pattern`; throws if the stream ends first. */
  async waitFor(pattern: RegExp | string): Promise<string> {
    const matches = () =>
      typeof pattern === "string" ? this.#text.includes(pattern) : pattern.test(this.#text);
    let ended = false;
    this.#done.then(() => (ended = true));
    while (!matches()) {
      if (ended) {
        throw new Error(`stream ended without ${pattern}; got ${JSON.stringify(this.#text)}`);
      }
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), this.#done]);
    }
    return this.#text;
  }
}

/** What the error stream said. */
export interface RemoteStatus {
  /** The raw bytes as text (JSON for v4/v5, a message or nothing for older versions). */
  readonly raw: string;
  /** The exit code: 0 on success, the ExitCode cause on NonZeroExitCode; else undefined. */
  readonly exitCode: number | undefined;
  /** The decoded JSON status (v4/v5). */
  readonly json: Record<string, unknown> | undefined;
}

/** Decodes an error-stream payload as client-go's v4 decoder does. */
export function decodeStatus(raw: string): RemoteStatus {
  if (raw === "") return { raw, exitCode: 0, json: undefined };
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return { raw, exitCode: undefined, json: undefined };
  }
  if (json.status === "Success") return { raw, exitCode: 0, json };
  const causes = (json.details as { causes?: { reason?: string; message?: string }[] } | undefined)
    ?.causes ?? [];
  const cause = json.reason === "NonZeroExitCode"
    ? causes.find((c) => c.reason === "ExitCode")
    : undefined;
  return { raw, exitCode: cause?.message !== undefined ? Number(cause.message) : undefined, json };
}

/** Options of a remote command. */
export interface RemoteCommandOptions {
  readonly stdin?: boolean;
  readonly stdout?: boolean;
  readonly stderr?: boolean;
  readonly tty?: boolean;
  /** Offered protocols, most preferred first (client-go: v5, v4, v3, v2, v1). */
  readonly protocols?: readonly string[];
}

/** The client-go protocol list of Kubernetes 1.30+. */
export const CLIENT_GO_PROTOCOLS = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
] as const;

/** An exec or attach over SPDY, driven step by step. */
export class SpdyRemoteCommand {
  /** The connection. */
  readonly client: SpdyClient;
  /** Standard output (with a tty: everything). */
  readonly stdout: TextReader | undefined;
  /** Standard error. */
  readonly stderr: TextReader | undefined;
  readonly #streams: Map<string, SpdyStream>;
  readonly #error: TextReader;

  private constructor(client: SpdyClient, streams: Map<string, SpdyStream>) {
    this.client = client;
    this.#streams = streams;
    const out = streams.get("stdout");
    const err = streams.get("stderr");
    this.stdout = out && new TextReader(out.readable);
    this.stderr = err && new TextReader(err.readable);
    this.#error = new TextReader(streams.get("error")!.readable);
    // client-go reads the stdin stream until the server closes it.
    const stdin = streams.get("stdin");
    if (stdin) new TextReader(stdin.readable);
    const resize = streams.get("resize");
    if (resize) new TextReader(resize.readable);
  }

  /** Connects and opens the streams as client-go does. */
  static async open(url: string, opts: RemoteCommandOptions = {}): Promise<SpdyRemoteCommand> {
    const client = await SpdyClient.dial(url, opts.protocols ?? CLIENT_GO_PROTOCOLS);
    try {
      const streams = new Map<string, SpdyStream>();
      const open = async (type: string) => {
        streams.set(type, await client.session.openStream({ streamType: type }));
      };
      await open("error");
      if (opts.stdin) await open("stdin");
      if (opts.stdout ?? true) await open("stdout");
      if (opts.stderr ?? !opts.tty) await open("stderr");
      const resizable = ["v3.channel.k8s.io", "v4.channel.k8s.io", "v5.channel.k8s.io"];
      if (opts.tty && resizable.includes(client.protocol)) await open("resize");
      return new SpdyRemoteCommand(client, streams);
    } catch (err) {
      client.close();
      throw err;
    }
  }

  /** Types into stdin. */
  async write(data: string | Uint8Array): Promise<void> {
    const s = this.#streams.get("stdin");
    if (!s) throw new Error("no stdin stream");
    await s.write(typeof data === "string" ? enc.encode(data) : data);
  }

  /** Ends stdin (client-go closes the stream when its input ends). */
  async closeStdin(): Promise<void> {
    await this.#streams.get("stdin")?.end();
  }

  /** Sends a terminal size as client-go's `json.Encoder` writes it. */
  async resize(width: number, height: number): Promise<void> {
    const s = this.#streams.get("resize");
    if (!s) throw new Error("no resize stream");
    await s.write(enc.encode(JSON.stringify({ Width: width, Height: height }) + "\n"));
  }

  /** The error stream's content, once the server has finished it. */
  async status(): Promise<RemoteStatus> {
    return decodeStatus(await this.#error.all());
  }

  /** Waits for stdout, stderr and the status, as client-go's `stream()` does. */
  async result(): Promise<{ stdout: string; stderr: string; status: RemoteStatus }> {
    const [stdout, stderr] = await Promise.all([
      this.stdout?.all() ?? "",
      this.stderr?.all() ?? "",
    ]);
    return { stdout, stderr, status: await this.status() };
  }

  /** Closes the connection. */
  close(): void {
    this.client.close();
  }
}

/** Runs a command to its end: stdin (if given) is sent and closed; output and status returned. */
export async function spdyExec(
  url: string,
  opts: RemoteCommandOptions & { input?: string } = {},
): Promise<{ stdout: string; stderr: string; status: RemoteStatus; protocol: string }> {
  const cmd = await SpdyRemoteCommand.open(url, {
    ...opts,
    stdin: opts.input !== undefined || opts.stdin === true,
  });
  try {
    if (opts.input !== undefined) {
      await cmd.write(opts.input);
      await cmd.closeStdin();
    }
    return { ...(await cmd.result()), protocol: cmd.client.protocol };
  } finally {
    cmd.close();
  }
}

/** One forwarded connection: its data stream and what the error stream said. */
export interface ForwardedConnection {
  /** Data from the pod. */
  readonly output: TextReader;
  /** The error stream's text, once the server ends it ("" when all went well). */
  readonly error: Promise<string>;
  write(data: string | Uint8Array): Promise<void>;
  /** Half-closes our direction (the local socket reached EOF). */
  end(): Promise<void>;
  /** Tears both streams down (client-go's RemoveStreams). */
  reset(): void;
}

/** A port-forward session over SPDY, opening error+data stream pairs like client-go. */
export class SpdyPortForwarder {
  readonly #session: SpdySession;
  #nextRequest = 0;

  /** Wraps an already-upgraded session (plain TCP or tunnelled over WebSocket). */
  constructor(session: SpdySession) {
    this.#session = session;
  }

  /** Upgrades `url` with `portforward.k8s.io`. */
  static async open(url: string): Promise<{ forwarder: SpdyPortForwarder; client: SpdyClient }> {
    const client = await SpdyClient.dial(url, ["portforward.k8s.io"]);
    return { forwarder: new SpdyPortForwarder(client.session), client };
  }

  /** Opens a connection to `port` in the pod. */
  async connect(port: number): Promise<ForwardedConnection> {
    const requestID = String(this.#nextRequest++);
    const headers = { streamType: "error", port: String(port), requestID };
    const error = await this.#session.openStream(headers);
    // client-go: "we're not writing to this stream".
    await error.end();
    const errorText = new TextReader(error.readable).all();
    const data = await this.#session.openStream({ ...headers, streamType: "data" });
    return {
      output: new TextReader(data.readable),
      error: errorText,
      write: (d) => data.write(typeof d === "string" ? enc.encode(d) : d),
      end: () => data.end(),
      reset: () => {
        data.reset();
        error.reset();
      },
    };
  }
}

/**
 * A WebSocket client as a byte transport, for SPDY tunnelled over it. Written with our own
 * framing because `SPDY/3.1+portforward.k8s.io` is not a valid subprotocol token for
 * browsers (a "/" is a separator), so Deno's WebSocket refuses to offer it; gorilla, which
 * client-go uses, does not check.
 */
export async function webSocketTransport(url: string, protocol: string): Promise<Transport> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const { response, reader, transport } = await httpRequest(url, {
    method: "GET",
    headers: [
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
      ["Sec-WebSocket-Version", "13"],
      ["Sec-WebSocket-Key", key],
      ["Sec-WebSocket-Protocol", protocol],
    ],
  });
  if (response.status !== 101) throw new UpgradeRefused(response);
  if (response.headers.get("sec-websocket-accept") !== await acceptKey(key)) {
    transport.close();
    throw new Error("bad Sec-WebSocket-Accept");
  }
  let closing = false;
  const mask = () => crypto.getRandomValues(new Uint8Array(4));
  return {
    async read() {
      for (;;) {
        const f = await readWsFrame(reader, 1 << 24);
        if (f === null) return null;
        if (f.opcode === Opcode.Binary || f.opcode === Opcode.Continuation) {
          if (f.payload.byteLength > 0) return f.payload;
        } else if (f.opcode === Opcode.Close) {
          if (!closing) {
            closing = true;
            await transport.write(
              encodeWsFrame(Opcode.Close, f.payload.subarray(0, 2), { mask: mask() }),
            )
              .catch(() => {});
          }
          return null;
        } else if (f.opcode === Opcode.Ping) {
          await transport.write(encodeWsFrame(Opcode.Pong, f.payload, { mask: mask() }));
        }
      }
    },
    write: (data) => transport.write(encodeWsFrame(Opcode.Binary, data, { mask: mask() })),
    async closeWrite() {
      if (closing) return;
      closing = true;
      await transport.write(
        encodeWsFrame(Opcode.Close, new Uint8Array([0x03, 0xe8]), { mask: mask() }),
      )
        .catch(() => {});
    },
    close: () => transport.close(),
  };
}
