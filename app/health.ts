/**
 * The agent's self-check behind the systemd watchdog: one CRI `Version` call over its own
 * socket, the path every kubelet call takes (accept, HTTP/2, routing, a handler, the
 * response writer).
 *
 * A bare `connect` would prove nothing (the kernel completes it from the listen backlog
 * even when nobody calls accept), and a timer firing only proves the event loop turns. The
 * call counts as answered when the server sends response headers for it: an agent that
 * refuses a call because it is saturated is busy, not hung, and must not be restarted for
 * it. Only what this check needs of HTTP/2 (RFC 9113) is spoken: the preface, SETTINGS and
 * its ACK, one request with literal (never indexed, never Huffman) HPACK headers.
 *
 * @module
 */
import { deadlineExceeded, unavailable, wrap } from "../errors/mod.ts";

const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const VERSION_PATH = "/runtime.v1.RuntimeService/Version";

const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
const STREAM = 1;

/** An HTTP/2 frame: 9-byte header (24-bit length, type, flags, 31-bit stream id), payload. */
export function encodeFrame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array = new Uint8Array(),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(9 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, (payload.length >>> 16) & 0xff);
  view.setUint16(1, payload.length & 0xffff);
  view.setUint8(3, type);
  view.setUint8(4, flags);
  view.setUint32(5, stream & 0x7fffffff);
  out.set(payload, 9);
  return out;
}

/** HPACK integer with an `n`-bit prefix (RFC 7541 §5.1), high bits of the first byte zero. */
function hpackInt(value: number, n: number): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [value];
  const out = [max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** Headers as "literal without indexing, new name" fields (RFC 7541 §6.2.2), no Huffman. */
export function encodeLiteralHeaders(headers: ReadonlyArray<[string, string]>): Uint8Array {
  const enc = new TextEncoder();
  const bytes: number[] = [];
  for (const [name, value] of headers) {
    const n = enc.encode(name);
    const v = enc.encode(value);
    bytes.push(0x00, ...hpackInt(n.length, 7), ...n, ...hpackInt(v.length, 7), ...v);
  }
  return new Uint8Array(bytes);
}

/** The bytes a client sends for one `Version` call with an empty request. */
export function versionCallBytes(): Uint8Array {
  const headers = encodeLiteralHeaders([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", VERSION_PATH],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["user-agent", "sauropod-watchdog"],
  ]);
  // An empty VersionRequest is an uncompressed gRPC message of zero bytes.
  const message = new Uint8Array(5);
  const parts = [
    new TextEncoder().encode(PREFACE),
    encodeFrame(FRAME.SETTINGS, 0, 0),
    encodeFrame(FRAME.HEADERS, FLAG.END_HEADERS, STREAM, headers),
    encodeFrame(FRAME.DATA, FLAG.END_STREAM, STREAM, message),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What a server sent back, frame by frame, as far as the check cares. */
export type Verdict =
  | { kind: "answered" }
  | { kind: "refused"; why: string }
  | { kind: "more" };

/**
 * Reads frames from `buf`, answering server SETTINGS through `ack`; returns the verdict and
 * how many bytes were consumed.
 */
export function scanFrames(buf: Uint8Array, ack: () => void): { verdict: Verdict; used: number } {
  let at = 0;
  while (buf.length - at >= 9) {
    const view = new DataView(buf.buffer, buf.byteOffset + at);
    const length = (view.getUint8(0) << 16) | view.getUint16(1);
    if (buf.length - at < 9 + length) break;
    const type = view.getUint8(3);
    const flags = view.getUint8(4);
    const stream = view.getUint32(5) & 0x7fffffff;
    at += 9 + length;
    if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) ack();
    else if (type === FRAME.HEADERS && stream === STREAM) {
      return { verdict: { kind: "answered" }, used: at };
    } else if (type === FRAME.RST_STREAM && stream === STREAM && length >= 4) {
      const code = view.getUint32(9);
      return { verdict: { kind: "refused", why: `stream reset (code ${code})` }, used: at };
    } else if (type === FRAME.GOAWAY && length >= 8) {
      const code = view.getUint32(13);
      return {
        verdict: { kind: "refused", why: `connection closed (GOAWAY code ${code})` },
        used: at,
      };
    }
  }
  return { verdict: { kind: "more" }, used: at };
}

/**
 * Calls `Version` on the CRI socket at `socketPath` and resolves once the server answers.
 * Throws deadline-exceeded after `budgetMs`, unavailable when the server refuses or hangs up.
 */
export async function criSelfCheck(socketPath: string, budgetMs: number): Promise<void> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch (err) {
    throw wrap(err, `cannot connect to the CRI socket ${socketPath}`);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    // Closing is what interrupts a read that would wait forever on a hung server.
    try {
      conn.close();
    } catch {
      // already closed
    }
  }, budgetMs);
  try {
    await conn.write(versionCallBytes());
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(16 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(chunk);
      } catch (err) {
        if (timedOut) break;
        throw wrap(err, `reading from the CRI socket ${socketPath}`);
      }
      if (n === null) break;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      const { verdict, used } = scanFrames(next, () => {
        void conn.write(encodeFrame(FRAME.SETTINGS, FLAG.ACK, 0)).catch(() => {});
      });
      buf = next.subarray(used);
      if (verdict.kind === "answered") return;
      if (verdict.kind === "refused") {
        throw unavailable(`the CRI server on ${socketPath} refused Version: ${verdict.why}`);
      }
    }
    if (timedOut) {
      throw deadlineExceeded(
        `the CRI server on ${socketPath} did not answer Version in ${budgetMs} ms`,
      );
    }
    throw unavailable(`the CRI server on ${socketPath} closed the connection without answering`);
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // closed by the server
      }
    }
  }
}
