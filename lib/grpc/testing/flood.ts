/**
 * A hostile HTTP/2 client that plays by the rules: it opens many gRPC streams, declares a
 * large request message on each, and sends as much of every message as the server's
 * flow-control windows allow, never ending a stream. What it manages to send is what the
 * server agreed to hold; a server that gives credit on receipt rather than on consumption
 * lets it send everything.
 *
 * It writes a batch of DATA, then does a PING round trip: the server answers in order, so
 * every WINDOW_UPDATE the batch earned has arrived when the PING's ack does. Once nothing
 * can be sent and a round trip brings no new window, the flood has stalled.
 *
 * @module
 */
import type { ByteConn } from "../_h2_connection.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  type ErrorCode,
  Flag,
  FrameType,
  FrameWriter,
  parseGoaway,
  parseSettings,
  parseWindowUpdate,
  Setting,
} from "../_h2_frame.ts";
import { encodeBlock } from "../_hpack.ts";
import { messagePrefix, PREFIX_SIZE } from "../_message.ts";
import { RawClient } from "../_test_util.ts";

/** What to flood with. */
export interface FloodOptions {
  /** Streams to open (all at once). */
  readonly streams: number;
  /** The gRPC method path. */
  readonly path: string;
  /** The message length each stream's prefix declares. */
  readonly declared: number;
  /** Message bytes to send on each stream (less than `declared`: the message never ends). */
  readonly perStream: number;
  /** DATA written between PING round trips (default 1 MiB). */
  readonly batchBytes?: number;
  /** Called after every round trip with the bytes sent so far; false stops the flood. */
  readonly onBatch?: (sent: number) => boolean | Promise<boolean>;
}

/** How a flood ended. */
export interface FloodResult {
  /** DATA bytes the server let us send, message prefixes included. */
  readonly sent: number;
  /** "stalled": no window left; "done": every stream sent all; "stopped": onBatch said so; "closed": the server closed the connection (see `goaway`). */
  readonly end: "stalled" | "done" | "stopped" | "closed";
  /** Streams the server ended or reset. */
  readonly ended: number;
  /** The GOAWAY code, if the server sent one. */
  readonly goaway?: ErrorCode;
}

interface Flow {
  readonly id: number;
  window: number;
  sent: number;
  dead: boolean;
}

/** Floods the server at the other end of `conn` (which the caller closes). */
export async function flood(conn: ByteConn, opts: FloodOptions): Promise<FloodResult> {
  const c = new RawClient(conn);
  const total = PREFIX_SIZE + opts.perStream;
  const batchBytes = opts.batchBytes ?? 1 << 20;
  let initialWindow = DEFAULT_WINDOW;
  let connWindow = DEFAULT_WINDOW;
  let sent = 0;
  let ended = 0;
  let goaway: ErrorCode | undefined;
  const flows = new Map<number, Flow>();

  /** Applies one server frame; false once the connection is gone. */
  const apply = async (
    f: { type: number; flags: number; streamId: number; payload: Uint8Array },
  ) => {
    switch (f.type) {
      case FrameType.SETTINGS:
        if (f.flags & Flag.ACK) return true;
        for (const [id, v] of parseSettings(f.payload)) {
          if (id !== Setting.INITIAL_WINDOW_SIZE) continue;
          for (const fl of flows.values()) fl.window += v - initialWindow;
          initialWindow = v;
        }
        await c.frames((w) => w.settingsAck());
        return true;
      case FrameType.WINDOW_UPDATE: {
        const inc = parseWindowUpdate(f.payload, f.streamId);
        if (f.streamId === 0) connWindow += inc;
        else {
          const fl = flows.get(f.streamId);
          if (fl) fl.window += inc;
        }
        return true;
      }
      case FrameType.RST_STREAM:
      case FrameType.HEADERS: {
        const fl = flows.get(f.streamId);
        const over = f.type === FrameType.RST_STREAM || (f.flags & Flag.END_STREAM) !== 0;
        if (fl && over && !fl.dead) {
          fl.dead = true;
          ended++;
        }
        return true;
      }
      case FrameType.GOAWAY:
        goaway = parseGoaway(f.payload).code;
        return false;
      default:
        return true;
    }
  };

  let pings = 0;
  /** A PING round trip, applying what arrives before its ack; false if the server closed. */
  const roundTrip = async (): Promise<boolean> => {
    const opaque = new Uint8Array(8);
    new DataView(opaque.buffer).setUint32(4, ++pings);
    await c.frames((w) => w.ping(false, opaque));
    for (;;) {
      const f = await c.next();
      if (f === null) return false;
      if (
        f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 &&
        new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(4) === pings
      ) {
        return true;
      }
      if (!(await apply(f))) return false;
    }
  };

  await c.start();
  if (!(await roundTrip())) return { sent, end: "closed", ended, ...(goaway ? { goaway } : {}) };

  const head = encodeBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", opts.path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
  ]);
  const w = new FrameWriter();
  for (let i = 0; i < opts.streams; i++) {
    const id = 2 * i + 1;
    flows.set(id, { id, window: initialWindow, sent: 0, dead: false });
    w.headers(id, head, false, DEFAULT_MAX_FRAME_SIZE);
  }
  await c.send(w.take());

  const prefix = messagePrefix(opts.declared);
  const zeros = new Uint8Array(DEFAULT_MAX_FRAME_SIZE);
  const order = [...flows.values()];
  const sendable = (fl: Flow) => !fl.dead && fl.sent < total && fl.window > 0;
  for (;;) {
    let batch = 0;
    for (const fl of order) {
      while (sendable(fl) && connWindow > 0 && batch < batchBytes) {
        const n = Math.min(DEFAULT_MAX_FRAME_SIZE, fl.window, connWindow, total - fl.sent);
        const payload = zeros.subarray(0, n);
        if (fl.sent < PREFIX_SIZE) {
          // The message starts with its prefix; the body is zeros.
          payload.fill(0);
          payload.set(prefix.subarray(fl.sent, Math.min(PREFIX_SIZE, fl.sent + n)));
        }
        w.data(fl.id, false, payload);
        if (fl.sent < PREFIX_SIZE) payload.fill(0);
        fl.window -= n;
        connWindow -= n;
        fl.sent += n;
        sent += n;
        batch += n;
      }
      if (batch >= batchBytes || connWindow <= 0) break;
    }
    if (batch > 0) await c.send(w.take());
    if (!(await roundTrip())) return { sent, end: "closed", ended, ...(goaway ? { goaway } : {}) };
    if (opts.onBatch && !(await opts.onBatch(sent))) return { sent, end: "stopped", ended };
    if (order.every((fl) => fl.dead || fl.sent >= total)) return { sent, end: "done", ended };
    if (batch === 0 && (connWindow <= 0 || !order.some(sendable))) {
      return { sent, end: "stalled", ended };
    }
  }
}
