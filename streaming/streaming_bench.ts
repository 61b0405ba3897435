/**
 * Micro-benchmarks of the streaming server alone (local processes behind it), run with
 * `deno bench -A streaming/streaming_bench.ts`:
 *
 * - exec round trip: mint a URL, upgrade, open the streams, run `true`, read the status;
 *   over SPDY (what crictl and the kubelet use) and over WebSocket v5;
 * - keystroke round trip in an interactive tty exec (type a byte, see its echo);
 * - port-forward: one new connection's round trip, and bulk throughput;
 * - dialling into a network namespace (root only): the Worker dialer the backend uses
 *   against `nsenter --net` + a relay process per connection, the alternative.
 *
 * The comparison with containerd's streaming server needs a container in both runtimes;
 * it belongs with the runtime benchmarks under `bench/`.
 */
import { Logger } from "../log/mod.ts";
import { NetnsDialer } from "./netns_dial.ts";
import { StreamingServer } from "./server.ts";
import { LocalBackend } from "./testing/local_backend.ts";
import { spdyExec, SpdyPortForwarder, SpdyRemoteCommand } from "./testing/spdy_client.ts";
import { WsChannelClient } from "./testing/ws_client.ts";

const backend = new LocalBackend();
backend.startContainer("c1", ["cat"]);
const server = new StreamingServer({
  address: "127.0.0.1",
  port: 0,
  tokenTtlMs: 60_000,
  idleTimeoutMs: 0,
  backend,
  logger: new Logger({ level: "error" }),
});
await server.start();

const execReq = {
  containerId: "c1",
  cmd: ["true"],
  tty: false,
  stdin: false,
  stdout: true,
  stderr: true,
};

Deno.bench("exec `true` round trip over SPDY", { group: "exec", baseline: true }, async () => {
  const r = await spdyExec(server.execUrl(execReq));
  if (r.status.exitCode !== 0) throw new Error("exec failed");
});

Deno.bench("exec `true` round trip over WebSocket v5", { group: "exec" }, async () => {
  const ws = await WsChannelClient.open(server.execUrl(execReq), ["v5.channel.k8s.io"]);
  await ws.closed;
});

const tty = await SpdyRemoteCommand.open(
  server.execUrl({ ...execReq, cmd: ["cat"], tty: true, stdin: true, stderr: false }),
  { tty: true, stdin: true },
);
let typed = 0;
Deno.bench("keystroke echo in an interactive tty exec (SPDY)", async () => {
  const mark = `k${typed++};`;
  await tty.write(mark);
  await tty.stdout!.waitFor(mark);
});

const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const c of echo) {
    (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          let off = 0;
          while (off < n) off += await c.write(buf.subarray(off, n));
        }
      } catch {
        // closed
      } finally {
        c.close();
      }
    })();
  }
})();
const echoPort = (echo.addr as Deno.NetAddr).port;
const pf = await SpdyPortForwarder.open(server.portForwardUrl({ podSandboxId: "p", ports: [] }));

Deno.bench("port-forward: new connection, 1 byte there and back", { group: "pf" }, async () => {
  const c = await pf.forwarder.connect(echoPort);
  await c.write("x");
  await c.output.waitFor("x");
  c.reset();
});

const MiB = new Uint8Array(1 << 20);
Deno.bench("port-forward: 8 MiB echoed through one connection", { group: "pf" }, async () => {
  const c = await pf.forwarder.connect(echoPort);
  const writing = (async () => {
    for (let i = 0; i < 8; i++) await c.write(MiB);
  })();
  while (c.output.text.length < 8 << 20) {
    await c.output.waitFor(/$/).then(() => new Promise((r) => setTimeout(r, 1)));
  }
  await writing;
  c.reset();
});

const isRoot = Deno.uid() === 0;
const ns = `sauropod-bench-${crypto.randomUUID().slice(0, 8)}`;
let dialer: NetnsDialer | undefined;
let nsEcho: Deno.ChildProcess | undefined;
if (isRoot) {
  await new Deno.Command("ip", { args: ["netns", "add", ns] }).output();
  await new Deno.Command("ip", { args: ["-n", ns, "link", "set", "lo", "up"] }).output();
  nsEcho = new Deno.Command("ip", {
    args: ["netns", "exec", ns, "busybox", "nc", "-ll", "-p", "7000", "-e", "cat"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  dialer = new NetnsDialer();
  await new Promise((r) => setTimeout(r, 200));
}

Deno.bench({
  name: "netns dial + 1-byte round trip: Worker in the namespace (chosen)",
  group: "netns",
  baseline: true,
  ignore: !isRoot,
  async fn() {
    const c = await dialer!.dial(`/run/netns/${ns}`, 7000);
    const w = c.writable.getWriter();
    await w.write(new Uint8Array([120]));
    const r = c.readable.getReader();
    await r.read();
    r.releaseLock();
    w.releaseLock();
    c.close();
  },
});

Deno.bench({
  name: "netns dial + 1-byte round trip: nsenter --net + busybox nc relay",
  group: "netns",
  ignore: !isRoot,
  async fn() {
    const child = new Deno.Command("nsenter", {
      args: [`--net=/run/netns/${ns}`, "busybox", "nc", "127.0.0.1", "7000"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new Uint8Array([120]));
    const r = child.stdout.getReader();
    await r.read();
    await w.close();
    r.cancel();
    child.kill("SIGKILL");
    await child.status;
  },
});

globalThis.addEventListener("unload", () => {
  tty.close();
  pf.client.close();
  echo.close();
  dialer?.close();
  nsEcho?.kill("SIGKILL");
  if (isRoot) new Deno.Command("ip", { args: ["netns", "del", ns] }).outputSync();
  server.close();
  backend.close();
});
