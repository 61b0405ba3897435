/**
 * One CRI call in its own process, as `crictl` makes one per command: `deno run
 * bench/cri_call.ts <socket> <method path> <timeout s>` reads the encoded request from stdin, dials
 * the socket (a new connection, HTTP/2 preface and SETTINGS included), makes the unary
 * call, writes the encoded response to stdout and exits. A failed call exits 3 with
 * `<grpc code> <message>` on stderr; anything else exits 1.
 *
 * It imports only `node:http2` and `node:net` (no gRPC library, no generated code): the
 * bench process encodes and decodes, so the per-call start cost stays small and is the
 * same for both runtimes. `--noop` exits right after start, which measures that cost.
 *
 * @module
 */
import * as http2 from "node:http2";
import * as net from "node:net";

/** The gRPC frame of `msg`: uncompressed flag, big-endian length, bytes. */
function frame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of Deno.stdin.readable) {
    chunks.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function fail(code: number, text: string): never {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
  Deno.exit(code);
}

async function main(): Promise<void> {
  const [socket, path, timeoutS = "60"] = Deno.args;
  if (socket === "--noop") Deno.exit(0);
  if (!socket || !path) fail(1, "usage: cri_call.ts <socket> </service/Method> < request");
  const req = await readStdin();
  const session = http2.connect("http://localhost", {
    createConnection: () => net.connect(socket),
  });
  session.on("error", (err) => fail(1, `connection: ${err.message}`));
  const stream = session.request({
    ":method": "POST",
    ":path": path,
    ":authority": "localhost",
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": `${timeoutS}S`,
  });
  const body: Uint8Array[] = [];
  let status = "";
  let message = "";
  stream.on("response", (h) => {
    if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    if (h["grpc-message"] !== undefined) message = String(h["grpc-message"]);
  });
  stream.on("trailers", (h) => {
    if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    if (h["grpc-message"] !== undefined) message = String(h["grpc-message"]);
  });
  stream.on("data", (c: Uint8Array) => body.push(c));
  stream.end(frame(req));
  await new Promise<void>((resolve, reject) => {
    stream.on("close", () => resolve());
    stream.on("error", reject);
  });
  session.close();
  if (status !== "0") fail(3, `${status || 2} ${decodeURIComponent(message)}`);
  let n = 0;
  for (const c of body) n += c.length;
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of body) {
    all.set(c, off);
    off += c.length;
  }
  const len = all.length >= 5 ? new DataView(all.buffer, all.byteOffset).getUint32(1) : 0;
  const msg = all.subarray(5, 5 + len);
  let w = 0;
  while (w < msg.length) w += Deno.stdout.writeSync(msg.subarray(w));
  Deno.exit(0);
}

if (import.meta.main) await main();
