// deno-lint-ignore-file no-console
/**
 * Unary throughput of {@link GrpcServer}: a `Version`-shaped RPC on a unix socket, driven
 * by a Node `@grpc/grpc-js` client in its own process (the method of the ANCHORS figure
 * for grpc-js's own server on Deno: ~1,200/s sequential, ~5,500/s with 16 in flight).
 * Prints calls/s sequential and with N in flight, latency percentiles, and the server's
 * CPU time per call. Needs `node` on PATH.
 *
 * With `--bytes N` each request carries N bytes instead (an echo of the length comes
 * back): how large requests fare against the server's flow-control windows.
 *
 *   deno run -A cri/unary_bench.ts [--calls 3000] [--inflight 16] [--authority localhost]
 *     [--bytes 0]
 *
 * @module
 */
import { VersionRequest, VersionResponse } from "../api/gen/api.ts";
import { nullLogger } from "../log/mod.ts";
import { GrpcServer, protoCodec } from "../lib/grpc/mod.ts";

const CLIENT = `
const grpc = require(process.argv[1]);
const [sock, calls, inflight, authority, bytes] = process.argv.slice(2);
const N = Number(calls);
const c = new grpc.Client("unix://" + sock, grpc.credentials.createInsecure(),
  { "grpc.default_authority": authority, "grpc.max_send_message_length": 32 << 20 });
const big = Number(bytes) > 0;
const req = big ? Buffer.alloc(Number(bytes), 7) : Buffer.from([0x0a, 0x02, 0x76, 0x31]); // VersionRequest{version:"v1"}
const path = big ? "/bench.Bench/Size" : "/runtime.v1.RuntimeService/Version";
const call = () => new Promise((res, rej) => c.makeUnaryRequest(
  path, (b) => b, (b) => b, req, (e, r) => (e ? rej(e) : res(r))));
const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
(async () => {
  for (let i = 0; i < Math.min(200, N); i++) await call();
  const lat = [];
  let t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    await call();
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const seq = N / (Number(process.hrtime.bigint() - t) / 1e9);
  lat.sort((a, b) => a - b);
  let next = 0;
  t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Number(inflight) }, async () => {
    while (next++ < N) await call();
  }));
  const par = N / (Number(process.hrtime.bigint() - t) / 1e9);
  console.log(JSON.stringify({ seq, p50: pct(lat, 0.5), p99: pct(lat, 0.99), par }));
  c.close();
})();
`;

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && Deno.args[i + 1] !== undefined ? Deno.args[i + 1]! : fallback;
}

/** utime + stime of this process, in clock ticks (1/100 s). */
async function cpuTicks(): Promise<number> {
  const f = (await Deno.readTextFile("/proc/self/stat")).split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
}

const calls = Number(arg("calls", "3000"));
const inflight = Number(arg("inflight", "16"));
const authority = arg("authority", "localhost");
const bytes = Number(arg("bytes", "0"));
const grpcJs = new URL("../node_modules/@grpc/grpc-js", import.meta.url).pathname;

const dir = await Deno.makeTempDir({ prefix: "sauropod-grpc-bench-" });
const sock = `${dir}/bench.sock`;
const server = new GrpcServer({
  maxRecvMessageBytes: 16 << 20,
  maxSendMessageBytes: 16 << 20,
  maxConcurrentStreams: 1000,
  maxConcurrentCalls: 10_000,
  logger: nullLogger,
});
server.addUnary(
  "/runtime.v1.RuntimeService/Version",
  protoCodec(VersionRequest),
  protoCodec(VersionResponse),
  () =>
    Promise.resolve({
      version: "0.1.0",
      runtimeName: "sauropod",
      runtimeVersion: "0.1.0",
      runtimeApiVersion: "v1",
    }),
);
const raw = { encode: (b: Uint8Array) => b, decode: (b: Uint8Array) => b };
server.addUnary(
  "/bench.Bench/Size",
  raw,
  raw,
  (req) => Promise.resolve(new TextEncoder().encode(String(req.length))),
);
try {
  await server.listen(sock);
  const before = await cpuTicks();
  const out = await new Deno.Command("node", {
    args: ["-e", CLIENT, grpcJs, sock, String(calls), String(inflight), authority, String(bytes)],
    stderr: "inherit",
  }).output();
  const ticks = (await cpuTicks()) - before;
  if (!out.success) throw new Error("the node client failed");
  const r = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, number>;
  const total = Math.min(200, calls) + 2 * calls;
  if (bytes > 0) console.log(`requests of ${bytes} bytes`);
  console.log(
    `sequential: ${r.seq!.toFixed(0)}/s (p50 ${r.p50!.toFixed(2)} ms, p99 ${r.p99!.toFixed(2)} ms)`,
  );
  console.log(`${inflight} in flight: ${r.par!.toFixed(0)}/s`);
  console.log(`server CPU: ${((ticks * 10_000) / total).toFixed(0)} µs per call`);
} finally {
  await server.shutdown(1_000);
  await Deno.remove(dir, { recursive: true });
}
