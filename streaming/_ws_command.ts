/**
 * The remote-command protocols over WebSocket: every message starts with a channel byte
 * (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); the `base64.` variants send text
 * messages with the channel as an ASCII digit and the payload base64-encoded
 * (apimachinery `wsstream/conn.go`, kubelet `remotecommand/websocket.go`).
 *
 * `v5.channel.k8s.io` adds the CLOSE signal, `[255, channel]`, with which the client ends
 * its stdin (client-go's `NewWebSocketExecutor` speaks only v5). Older versions cannot
 * end stdin short of closing the connection.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { CommandChannels, OutputChannel } from "./_command.ts";
import { Feed } from "./_feed.ts";
import { type CommandStatus, encodeStatusV1, encodeStatusV4 } from "./_status.ts";
import { CloseCode, type WebSocketConnection } from "../lib/websocket/mod.ts";
import { fromBase64, toBase64 } from "../lib/base64.ts";

/** Subprotocols for exec and attach; `""` is a client that named none (binary, v1). */
export const WS_COMMAND_PROTOCOLS = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v4.base64.channel.k8s.io",
  "channel.k8s.io",
  "base64.channel.k8s.io",
] as const;

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
/** v5: `[CLOSE_SIGNAL, channel]` ends that channel. */
const CLOSE_SIGNAL = 255;

/** A channel codec: binary (channel byte) or base64 (channel digit, base64 text). */
export interface ChannelCodec {
  encode(channel: number, data: Uint8Array): { data: Uint8Array; binary: boolean };
  decode(
    message: { binary: boolean; data: Uint8Array },
  ): { channel: number; data: Uint8Array } | undefined;
}

/** The codec for a negotiated subprotocol. */
export function channelCodec(protocol: string): ChannelCodec {
  if (protocol.includes("base64.")) {
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    return {
      encode: (channel, data) => ({
        data: enc.encode(String.fromCharCode(48 + channel) + toBase64(data)),
        binary: false,
      }),
      decode: (m) => {
        if (m.data.byteLength === 0) return undefined;
        const channel = m.data[0]! - 48;
        try {
          return { channel, data: fromBase64(dec.decode(m.data.subarray(1))) };
        } catch {
          return undefined;
        }
      },
    };
  }
  return {
    encode: (channel, data) => {
      const out = new Uint8Array(data.byteLength + 1);
      out[0] = channel;
      out.set(data, 1);
      return { data: out, binary: true };
    },
    decode: (m) =>
      m.data.byteLength === 0 ? undefined : { channel: m.data[0]!, data: m.data.subarray(1) },
  };
}

/** The channels of an upgraded exec/attach WebSocket. Starts reading immediately. */
export function wsCommandChannels(
  ws: WebSocketConnection,
  protocol: string,
  opts: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
  log: Logger,
): CommandChannels {
  const codec = channelCodec(protocol);
  const v5 = protocol === "v5.channel.k8s.io";
  const jsonStatus = v5 || protocol.startsWith("v4.");
  const stdin = opts.stdin ? new Feed() : undefined;
  const resize = new Feed();
  const send = (channel: number, data: Uint8Array) => {
    const m = codec.encode(channel, data);
    return ws.send(m.data, m.binary);
  };
  const out = (channel: number, wanted: boolean): OutputChannel | undefined =>
    wanted ? { write: (d) => send(channel, d), end: () => Promise.resolve() } : undefined;

  // The kubelet writes an empty message on the lowest writable channel so the client
  // knows the connection is live before any output.
  const hello = opts.stdout ? STDOUT : opts.stderr ? STDERR : ERROR;
  send(hello, new Uint8Array(0)).catch(() => {});

  (async () => {
    try {
      for await (const m of ws.messages) {
        const msg = codec.decode(m);
        if (!msg) continue;
        if (v5 && msg.channel === CLOSE_SIGNAL) {
          const target = msg.data[0];
          if (target === STDIN) stdin?.close();
          else if (target === RESIZE) resize.close();
          continue;
        }
        if (msg.channel === STDIN) await stdin?.push(msg.data);
        else if (msg.channel === RESIZE) await resize.push(msg.data);
        else {log.debug("dropping a message on a channel the client may not write", {
            channel: msg.channel,
          });}
      }
    } finally {
      stdin?.close();
      resize.close();
    }
  })();

  return {
    stdin: stdin?.readable,
    stdout: out(STDOUT, opts.stdout),
    stderr: out(STDERR, opts.stderr),
    resize: opts.tty ? resize.readable : undefined,
    async writeStatus(status: CommandStatus) {
      const bytes = jsonStatus ? encodeStatusV4(status) : encodeStatusV1(status);
      if (bytes) await send(ERROR, bytes);
    },
    gone: ws.done,
    finish: () => ws.close(CloseCode.Normal),
    abort: () => ws.abort(),
  };
}
