/**
 * The WebSocket side of the tests: Deno's own `WebSocket` (a real, independent RFC 6455
 * client) speaking the Kubernetes channel protocols.
 *
 * @module
 */

/** Bytes received on one channel. */
export class ChannelBuffer {
  readonly chunks: Uint8Array[] = [];
  #waiters: (() => void)[] = [];

  /** @internal */
  add(data: Uint8Array): void {
    this.chunks.push(data);
    for (const w of this.#waiters.splice(0)) w();
  }

  /** @internal */
  wakeAll(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Everything so far, concatenated. */
  get bytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.byteLength, 0));
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.byteLength;
    }
    return out;
  }

  /** Everything so far as text. */
  get text(): string {
    return new TextDecoder().decode(this.bytes);
  }

  /** Waits for `pattern` in the text, or for `closed` (then throws). */
  async waitFor(pattern: string | RegExp, closed: Promise<unknown>): Promise<string> {
    let ended = false;
    closed.then(() => (ended = true));
    const ok = () =>
      typeof pattern === "string" ? this.text.includes(pattern) : pattern.test(this.text);
    while (!ok()) {
      if (ended) {
        throw new Error(`connection closed without ${pattern}; got ${JSON.stringify(this.text)}`);
      }
      await Promise.race([new Promise<void>((r) => this.#waiters.push(r)), closed]);
    }
    return this.text;
  }
}

/** A channel-protocol WebSocket client. */
export class WsChannelClient {
  /** The negotiated subprotocol. */
  readonly protocol: string;
  /** Resolves with the close code and reason once the connection is closed. */
  readonly closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
  /** Every message in arrival order: channel and payload. */
  readonly messages: { channel: number; data: Uint8Array }[] = [];
  readonly #ws: WebSocket;
  readonly #channels = new Map<number, ChannelBuffer>();
  readonly #base64: boolean;

  private constructor(ws: WebSocket, closed: WsChannelClient["closed"]) {
    this.#ws = ws;
    this.protocol = ws.protocol;
    this.#base64 = ws.protocol.includes("base64.");
    this.closed = closed;
  }

  /** Connects to `url` (http:// is turned into ws://) offering `protocols`. */
  static async open(url: string, protocols: readonly string[]): Promise<WsChannelClient> {
    const ws = new WebSocket(url.replace(/^http/, "ws"), [...protocols]);
    ws.binaryType = "arraybuffer";
    const pending: MessageEvent[] = [];
    ws.onmessage = (e) => pending.push(e);
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
      ws.addEventListener(
        "close",
        (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }),
      );
    });
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
    });
    const client = new WsChannelClient(ws, closed);
    ws.onmessage = (e) => client.#onMessage(e);
    for (const e of pending) client.#onMessage(e);
    closed.then(() => {
      for (const c of client.#channels.values()) c.wakeAll();
    });
    return client;
  }

  #onMessage(e: MessageEvent): void {
    let channel: number;
    let data: Uint8Array;
    if (typeof e.data === "string") {
      channel = e.data.charCodeAt(0) - 48;
      data = Uint8Array.from(atob(e.data.slice(1)), (ch) => ch.charCodeAt(0));
    } else {
      const all = new Uint8Array(e.data as ArrayBuffer);
      channel = all[0]!;
      data = all.subarray(1);
    }
    this.messages.push({ channel, data });
    this.channel(channel).add(data);
  }

  /** What arrived on `n`. */
  channel(n: number): ChannelBuffer {
    let c = this.#channels.get(n);
    if (!c) this.#channels.set(n, c = new ChannelBuffer());
    return c;
  }

  /** Sends `data` on channel `n` in the negotiated encoding. */
  send(n: number, data: string | Uint8Array): void {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (this.#base64) {
      this.#ws.send(String.fromCharCode(48 + n) + btoa(String.fromCharCode(...bytes)));
    } else {
      const msg = new Uint8Array(bytes.byteLength + 1);
      msg[0] = n;
      msg.set(bytes, 1);
      this.#ws.send(msg);
    }
  }

  /** v5: ends channel `n` from our side (client-go closes stdin this way). */
  closeChannel(n: number): void {
    this.#ws.send(new Uint8Array([255, n]));
  }

  /** Closes the WebSocket. */
  close(): void {
    if (this.#ws.readyState <= WebSocket.OPEN) this.#ws.close(1000);
  }
}
