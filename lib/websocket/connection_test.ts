import { assert, assertEquals } from "../../testing/assert.ts";
import { BufferedReader, memoryTransportPair, type Transport } from "../io/mod.ts";
import {
  acceptKey,
  CloseCode,
  encodeWsFrame,
  isValidKey,
  Opcode,
  readWsFrame,
  WebSocketConnection,
  type WsFrame,
} from "./mod.ts";

const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A server connection and the raw client end of its transport. */
function setup(opts: { maxMessage?: number; idleTimeoutMs?: number } = {}) {
  const [server, client] = memoryTransportPair();
  const ws = new WebSocketConnection(new BufferedReader(() => server.read()), server, {
    closeGraceMs: 2_000,
    ...opts,
  });
  ws.start();
  const clientReader = new BufferedReader(() => client.read());
  return {
    ws,
    client,
    send: (opcode: number, payload: Uint8Array, fin = true) =>
      client.write(encodeWsFrame(opcode, payload, { fin, mask: MASK })),
    next: (): Promise<WsFrame | null> => readWsFrame(clientReader, 1 << 20),
    async [Symbol.asyncDispose]() {
      ws.abort();
      client.close();
      await ws.done;
    },
  };
}

async function firstMessage(ws: WebSocketConnection) {
  const r = ws.messages.getReader();
  try {
    return await r.read();
  } finally {
    r.releaseLock();
  }
}

Deno.test("acceptKey() computes the RFC 6455 example", async () => {
  assertEquals(await acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert(isValidKey("dGhlIHNhbXBsZSBub25jZQ=="));
  assert(!isValidKey("c2hvcnQ="));
});

Deno.test("encodeWsFrame() uses 7-bit, 16-bit and 64-bit lengths", () => {
  assertEquals(
    encodeWsFrame(Opcode.Binary, new Uint8Array(125)).subarray(0, 2),
    new Uint8Array([0x82, 125]),
  );
  assertEquals(
    encodeWsFrame(Opcode.Binary, new Uint8Array(126)).subarray(0, 4),
    new Uint8Array([0x82, 126, 0, 126]),
  );
  assertEquals(
    encodeWsFrame(Opcode.Text, new Uint8Array(70_000)).subarray(0, 10),
    new Uint8Array([0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]),
  );
});

Deno.test("WebSocketConnection: a masked message arrives unmasked; replies go out unmasked", async () => {
  await using t = setup();
  await t.send(Opcode.Binary, new Uint8Array([1, 2, 3]));
  const m = await firstMessage(t.ws);
  assertEquals(m.value, { binary: true, data: new Uint8Array([1, 2, 3]) });
  await t.ws.send(text("hi"), false);
  const f = await t.next();
  assertEquals(f, { fin: true, opcode: Opcode.Text, masked: false, payload: text("hi") });
});

Deno.test("WebSocketConnection: fragments are joined and a ping between them is answered", async () => {
  await using t = setup();
  await t.send(Opcode.Text, text("hel"), false);
  await t.send(Opcode.Ping, text("p1"));
  await t.send(Opcode.Continuation, text("lo"), true);
  const pong = await t.next();
  assertEquals(pong?.opcode, Opcode.Pong);
  assertEquals(pong?.payload, text("p1"));
  const m = await firstMessage(t.ws);
  assertEquals(m.value, { binary: false, data: text("hello") });
});

Deno.test("WebSocketConnection: an unmasked client frame closes with 1002", async () => {
  await using t = setup();
  await t.client.write(encodeWsFrame(Opcode.Binary, new Uint8Array([1])));
  const f = await t.next();
  assertEquals(f?.opcode, Opcode.Close);
  assertEquals(f!.payload[0]! << 8 | f!.payload[1]!, CloseCode.ProtocolError);
  await t.ws.done;
});

Deno.test("WebSocketConnection: invalid UTF-8 in a text message closes with 1007", async () => {
  await using t = setup();
  await t.send(Opcode.Text, new Uint8Array([0xc3, 0x28]));
  const f = await t.next();
  assertEquals(f!.payload[0]! << 8 | f!.payload[1]!, CloseCode.InvalidData);
});

Deno.test("WebSocketConnection: a message over the limit closes with 1009", async () => {
  await using t = setup({ maxMessage: 10 });
  await t.send(Opcode.Binary, new Uint8Array(11));
  const f = await t.next();
  assertEquals(f!.payload[0]! << 8 | f!.payload[1]!, CloseCode.TooBig);
});

Deno.test("WebSocketConnection: the peer's close is echoed and ends the messages", async () => {
  await using t = setup();
  await t.send(Opcode.Close, new Uint8Array([0x03, 0xe8]));
  const f = await t.next();
  assertEquals(f, {
    fin: true,
    opcode: Opcode.Close,
    masked: false,
    payload: new Uint8Array([0x03, 0xe8]),
  });
  const m = await firstMessage(t.ws);
  assert(m.done);
  await t.ws.done;
  assertEquals(t.ws.peerCloseCode, 1000);
});

Deno.test("WebSocketConnection: close() sends its code and finishes when the peer answers", async () => {
  await using t = setup();
  const closing = t.ws.close(CloseCode.Normal, "bye");
  const f = await t.next();
  assertEquals(f?.opcode, Opcode.Close);
  assertEquals(new TextDecoder().decode(f!.payload.subarray(2)), "bye");
  await t.send(Opcode.Close, f!.payload.subarray(0, 2));
  await closing;
  assert(t.ws.closed);
});

Deno.test("WebSocketConnection: the end of the transport ends the connection", async () => {
  await using t = setup();
  (t.client as Transport).close();
  await t.ws.done;
  const m = await firstMessage(t.ws);
  assert(m.done);
});

Deno.test("WebSocketConnection: an idle connection is closed after the idle timeout", async () => {
  await using c = setup({ idleTimeoutMs: 30 });
  await c.ws.done;
  assertEquals(c.ws.closeReason, "idle timeout");
});
