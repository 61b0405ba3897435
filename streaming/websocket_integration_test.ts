/**
 * Exec and attach over WebSocket, with Deno's own WebSocket as the client.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { preloadFfi, startHarness } from "./testing/harness.ts";
import { decodeStatus, httpRequest } from "./testing/spdy_client.ts";
import { WsChannelClient } from "./testing/ws_client.ts";

preloadFfi();

const STDIN = 0, STDOUT = 1, STDERR = 2, ERROR = 3, RESIZE = 4;

const exec = (cmd: string[], extra: { tty?: boolean; stdin?: boolean } = {}) => ({
  containerId: "c1",
  cmd,
  tty: extra.tty ?? false,
  stdin: extra.stdin ?? false,
  stdout: true,
  stderr: !(extra.tty ?? false),
});

Deno.test("exec over WebSocket v5: `sh -c 'exit 3'` reports 3 and the server closes with 1000", async () => {
  await using h = await startHarness();
  const ws = await WsChannelClient.open(
    h.server.execUrl(exec(["sh", "-c", "echo out; echo err >&2; exit 3"])),
    ["v5.channel.k8s.io"],
  );
  try {
    assertEquals(ws.protocol, "v5.channel.k8s.io");
    const closed = await ws.closed;
    assertEquals(closed.code, 1000);
    assertEquals(ws.channel(STDOUT).text, "out\n");
    assertEquals(ws.channel(STDERR).text, "err\n");
    assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 3);
    // The first message is the kubelet's empty "connection is up" on the stdout channel.
    assertEquals(ws.messages[0], { channel: STDOUT, data: new Uint8Array(0) });
  } finally {
    ws.close();
  }
});

Deno.test("exec over WebSocket v5: the CLOSE signal ends stdin", async () => {
  await using h = await startHarness();
  const ws = await WsChannelClient.open(
    h.server.execUrl(exec(["sh", "-c", "cat; echo eof-seen"], { stdin: true })),
    ["v5.channel.k8s.io", "v4.channel.k8s.io"],
  );
  try {
    ws.send(STDIN, "hello websocket\n");
    await ws.channel(STDOUT).waitFor("hello websocket\n", ws.closed);
    ws.closeChannel(STDIN);
    await ws.closed;
    assertEquals(ws.channel(STDOUT).text, "hello websocket\neof-seen\n");
    assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 0);
  } finally {
    ws.close();
  }
});

Deno.test("exec over WebSocket v4.base64: text frames, base64 payloads, JSON status", async () => {
  await using h = await startHarness();
  const ws = await WsChannelClient.open(
    h.server.execUrl(exec(["sh", "-c", "printf 'caf\\303\\251\\n'; exit 9"])),
    ["v4.base64.channel.k8s.io"],
  );
  try {
    await ws.closed;
    assertEquals(ws.protocol, "v4.base64.channel.k8s.io");
    assertEquals(ws.channel(STDOUT).text, "café\n");
    assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 9);
  } finally {
    ws.close();
  }
});

Deno.test("exec over WebSocket channel.k8s.io (v1): a failure is plain text", async () => {
  await using h = await startHarness();
  const ws = await WsChannelClient.open(
    h.server.execUrl(exec(["sh", "-c", "exit 4"])),
    ["channel.k8s.io"],
  );
  try {
    await ws.closed;
    assertStringIncludes(ws.channel(ERROR).text, "exit code 4");
  } finally {
    ws.close();
  }
});

Deno.test("exec over WebSocket with a tty: resize on channel 4 reaches `stty size`", async () => {
  await using h = await startHarness();
  const ws = await WsChannelClient.open(
    h.server.execUrl(exec(["sh"], { tty: true, stdin: true })),
    ["v5.channel.k8s.io"],
  );
  try {
    ws.send(RESIZE, JSON.stringify({ Width: 90, Height: 25 }));
    ws.send(STDIN, "stty size\n");
    await ws.channel(STDOUT).waitFor(/25 90/, ws.closed);
    ws.send(STDIN, "exit 2\n");
    await ws.closed;
    assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 2);
  } finally {
    ws.close();
  }
});

Deno.test("attach over WebSocket: output written after attaching arrives, detaching leaves it running", async () => {
  await using h = await startHarness();
  const container = h.backend.startContainer("echoer", [
    "sh",
    "-c",
    'while read l; do echo "echo: $l"; done',
  ]);
  const ws = await WsChannelClient.open(
    h.server.attachUrl({
      containerId: "echoer",
      tty: false,
      stdin: true,
      stdout: true,
      stderr: true,
    }),
    ["v5.channel.k8s.io"],
  );
  try {
    while (container.attachers === 0) await new Promise((r) => setTimeout(r, 10));
    await container.write("marker-1\n");
    await ws.channel(STDOUT).waitFor("echo: marker-1\n", ws.closed);
    ws.send(STDIN, "from-client\n");
    await ws.channel(STDOUT).waitFor("echo: from-client\n", ws.closed);
  } finally {
    ws.close();
  }
  await ws.closed;
  while (container.attachers > 0) await new Promise((r) => setTimeout(r, 10));
  assert(container.running, "detaching must not stop the container");
});

Deno.test("WebSocket: an unsupported subprotocol is refused with 403 before the upgrade", async () => {
  await using h = await startHarness();
  const { response } = await httpRequest(h.server.execUrl(exec(["true"])), {
    method: "GET",
    headers: [
      ["Connection", "Upgrade"],
      ["Upgrade", "websocket"],
      ["Sec-WebSocket-Version", "13"],
      ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
      ["Sec-WebSocket-Protocol", "v9.channel.k8s.io"],
    ],
  });
  assertEquals(response.status, 403);
  assertStringIncludes(response.body, "v9.channel.k8s.io");
});
