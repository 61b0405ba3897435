/**
 * Port forwarding over SPDY, over WebSocket channels, and as SPDY tunnelled through a
 * WebSocket, to real TCP servers: an echo server and busybox httpd (the brief's "small
 * HTTP server"), on the host's loopback or inside a test network namespace.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { BufferedReader } from "../lib/io/mod.ts";
import { NetnsDialer } from "./netns_dial.ts";
import { SpdySession } from "../lib/spdy/mod.ts";
import { startHarness } from "./testing/harness.ts";
import { SpdyPortForwarder, webSocketTransport } from "./testing/spdy_client.ts";
import { WsChannelClient } from "./testing/ws_client.ts";

/** An echo server: echoes, and after the client's EOF says "bye" and closes. */
function echoServer(): {
  port: number;
  open: () => number;
  [Symbol.asyncDispose](): Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const serve = async (c: Deno.Conn) => {
    conns.add(c);
    try {
      const buf = new Uint8Array(16384);
      for (;;) {
        const n = await c.read(buf);
        if (n === null) break;
        await c.write(buf.subarray(0, n));
      }
      await c.write(new TextEncoder().encode("bye\n"));
    } catch {
      // The forwarder closed the connection.
    } finally {
      conns.delete(c);
      try {
        c.close();
      } catch {
        // Already closed.
      }
    }
  };
  const accepting = (async () => {
    for await (const c of listener) {
      const t = serve(c);
      tasks.add(t);
      t.finally(() => tasks.delete(t));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    open: () => conns.size,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const c of conns) c.close();
      await Promise.allSettled([...tasks]);
    },
  };
}

/** A free loopback port (bound and released; the caller binds it next). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** busybox httpd serving one page, on 127.0.0.1:port, optionally inside a netns. */
async function httpd(netns?: string) {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-httpd-" });
  await Deno.writeTextFile(`${dir}/index.html`, "<h1>hello from the pod</h1>\n");
  const port = netns ? 8080 : freePort();
  const argv = ["busybox", "httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", dir];
  const cmd = netns ? ["ip", "netns", "exec", netns, ...argv] : argv;
  const child = new Deno.Command(cmd[0]!, { args: cmd.slice(1), stdout: "null", stderr: "null" })
    .spawn();
  return {
    port,
    child,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const GET = "GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n";

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

Deno.test("port-forward over SPDY: two ports, two connections each, in one session", async () => {
  await using echo = echoServer();
  await using web = await httpd();
  await using h = await startHarness();
  const { forwarder, client } = await SpdyPortForwarder.open(
    h.server.portForwardUrl({ podSandboxId: "pod1", ports: [] }),
  );
  try {
    // httpd may still be binding: retry the first fetch until it answers.
    await until(async () => {
      const probe = await forwarder.connect(web.port);
      await probe.write(GET);
      const [out, err] = await Promise.all([probe.output.all(), probe.error]);
      probe.reset();
      return err === "" && out.includes("200 OK");
    });
    const conns = await Promise.all([
      forwarder.connect(web.port),
      forwarder.connect(web.port),
      forwarder.connect(echo.port),
      forwarder.connect(echo.port),
    ]);
    await Promise.all(conns.map((c, i) => c.write(i < 2 ? GET : `echo ${i}\n`)));
    await conns[2]!.output.waitFor("echo 2\n");
    await conns[3]!.output.waitFor("echo 3\n");
    await Promise.all([conns[2]!.end(), conns[3]!.end()]);
    const outs = await Promise.all(conns.map((c) => c.output.all()));
    assertStringIncludes(outs[0]!, "<h1>hello from the pod</h1>");
    assertStringIncludes(outs[1]!, "<h1>hello from the pod</h1>");
    assertEquals(outs[2], "echo 2\nbye\n");
    assertEquals(outs[3], "echo 3\nbye\n");
    assertEquals(await Promise.all(conns.map((c) => c.error)), ["", "", "", ""]);
    for (const c of conns) c.reset();
  } finally {
    client.close();
  }
});

Deno.test("port-forward over SPDY: a port nobody listens on is reported on the error stream", async () => {
  await using h = await startHarness();
  const { forwarder, client } = await SpdyPortForwarder.open(
    h.server.portForwardUrl({ podSandboxId: "pod1", ports: [] }),
  );
  try {
    const port = freePort();
    const conn = await forwarder.connect(port);
    const err = await conn.error;
    assertMatch(err, new RegExp(`^error forwarding port ${port} to pod pod1, uid : .*refused`));
    assertEquals(await conn.output.all(), "");
    // The session is still usable after a failed dial.
    await using echo = echoServer();
    const ok = await forwarder.connect(echo.port);
    await ok.write("again\n");
    await ok.end();
    assertEquals(await ok.output.all(), "again\nbye\n");
  } finally {
    client.close();
  }
});

Deno.test("port-forward over SPDY: a vanished client closes its pod connections", async () => {
  await using echo = echoServer();
  await using h = await startHarness();
  const { forwarder, client } = await SpdyPortForwarder.open(
    h.server.portForwardUrl({ podSandboxId: "pod1", ports: [] }),
  );
  const conn = await forwarder.connect(echo.port);
  await conn.write("x\n");
  await conn.output.waitFor("x\n");
  assertEquals(echo.open(), 1);
  client.close();
  await until(() => echo.open() === 0);
});

Deno.test("port-forward: a backend connection whose close throws does not take the server down", async () => {
  await using echo = echoServer();
  // Like a bare Deno.TcpConn: closing the writable closes the socket, close() throws after.
  const dial = async (_pod: string, port: number) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return { readable: conn.readable, writable: conn.writable, close: () => conn.close() };
  };
  await using h = await startHarness({ dial });
  for (let i = 0; i < 2; i++) {
    const { forwarder, client } = await SpdyPortForwarder.open(
      h.server.portForwardUrl({ podSandboxId: "pod1", ports: [] }),
    );
    try {
      const conn = await forwarder.connect(echo.port);
      await conn.write("x\n");
      await conn.output.waitFor("x\n");
      await conn.end();
      // The reply after our end is lost with such a connection; the error is reported.
      assertStringIncludes(await conn.error, "error forwarding port");
      await conn.output.all();
    } finally {
      client.close();
    }
  }
  assert(!h.logs.some((l) => l.includes("failed unexpectedly")), h.logs.join("\n"));
});

Deno.test("port-forward over WebSocket: port prefixes, data both ways, an unreachable port's error", async () => {
  await using echo = echoServer();
  await using h = await startHarness();
  const dead = freePort();
  const ws = await WsChannelClient.open(
    h.server.portForwardUrl({ podSandboxId: "pod1", ports: [echo.port, dead] }),
    ["v4.channel.k8s.io"],
  );
  try {
    const le = (p: number) => new Uint8Array([p & 0xff, p >> 8]);
    await ws.channel(3).waitFor(/refused/, ws.closed);
    assertEquals(ws.channel(0).chunks[0], le(echo.port));
    assertEquals(ws.channel(1).chunks[0], le(echo.port));
    assertEquals(ws.channel(2).chunks[0], le(dead));
    assertEquals(ws.channel(3).chunks[0], le(dead));
    assertStringIncludes(ws.channel(3).text, `error forwarding port ${dead} to pod pod1`);
    ws.send(0, "over websocket\n");
    await ws.channel(0).waitFor("over websocket\n", ws.closed);
  } finally {
    ws.close();
  }
  await ws.closed;
  await until(() => echo.open() === 0);
});

Deno.test("port-forward as SPDY tunnelled over WebSocket (crictl --transport websocket)", async () => {
  await using web = await httpd();
  await using h = await startHarness();
  const transport = await webSocketTransport(
    h.server.portForwardUrl({ podSandboxId: "pod1", ports: [] }),
    "SPDY/3.1+portforward.k8s.io",
  );
  const session = new SpdySession(new BufferedReader(() => transport.read()), transport, {
    role: "client",
  });
  session.start();
  try {
    const forwarder = new SpdyPortForwarder(session);
    let page = "";
    await until(async () => {
      const c = await forwarder.connect(web.port);
      await c.write(GET);
      page = await c.output.all();
      c.reset();
      return page.includes("200 OK");
    });
    assertStringIncludes(page, "<h1>hello from the pod</h1>");
  } finally {
    session.close();
    await session.done;
  }
});

const isRoot = Deno.uid() === 0;

Deno.test({
  name: "port-forward into a network namespace fetches a page from busybox httpd inside it",
  ignore: !isRoot,
  async fn() {
    const ns = `sauropod-stream-${crypto.randomUUID().slice(0, 8)}`;
    const ip = (...args: string[]) => new Deno.Command("ip", { args, stderr: "piped" }).output();
    assert((await ip("netns", "add", ns)).success, "ip netns add");
    const dialer = new NetnsDialer({ lingerMs: 50 });
    try {
      assert((await ip("-n", ns, "link", "set", "lo", "up")).success);
      await using web = await httpd(ns);
      await using h = await startHarness({
        dial: (_pod, port) => dialer.dial(`/run/netns/${ns}`, port),
      });
      const { forwarder, client } = await SpdyPortForwarder.open(
        h.server.portForwardUrl({ podSandboxId: ns, ports: [] }),
      );
      try {
        let page = "";
        await until(async () => {
          const c = await forwarder.connect(web.port);
          await c.write(GET);
          page = await c.output.all();
          c.reset();
          return page.includes("200 OK");
        });
        assertStringIncludes(page, "<h1>hello from the pod</h1>");
        // Port 8080 on the host's loopback is not the pod's: nothing answers there.
        const host = await Deno.connect({ hostname: "127.0.0.1", port: 8080 }).then(
          (c) => (c.close(), true),
          () => false,
        );
        assert(!host, "the page must come from inside the namespace");
      } finally {
        client.close();
      }
    } finally {
      dialer.close();
      await ip("netns", "del", ns);
    }
  },
});
