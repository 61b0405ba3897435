import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { BufferedReader, memoryTransportPair, type Transport } from "../io/mod.ts";
import {
  encodeFrame,
  encodeHeaderBlock,
  HeaderDeflater,
  readFrame,
  RstStatus,
  SpdySession,
  type SpdySessionOptions,
  type SpdyStream,
  SpdyStreamClosed,
} from "./mod.ts";

function session(t: Transport, opts: SpdySessionOptions): SpdySession {
  const s = new SpdySession(new BufferedReader(() => t.read()), t, opts);
  s.start();
  return s;
}

async function readAll(r: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  const dec = new TextDecoder();
  for await (const c of r) out += dec.decode(c, { stream: true });
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A client and a server session joined in memory; the server echoes what it is told. */
function pair(onStream: (s: SpdyStream) => void, serverOpts: Partial<SpdySessionOptions> = {}) {
  const [a, b] = memoryTransportPair();
  const server = session(a, { role: "server", onStream, ...serverOpts });
  const client = session(b, { role: "client" });
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      client.close();
      server.close();
      await Promise.all([client.done, server.done]);
    },
  };
}

Deno.test("SpdySession: a client stream reaches the server with its headers, both ways", async () => {
  const accepted = Promise.withResolvers<SpdyStream>();
  await using p = pair((s) => {
    s.reply();
    accepted.resolve(s);
  });
  const cs = await p.client.openStream({ streamType: "stdin", Port: "8080" });
  const ss = await accepted.promise;
  assertEquals(ss.id, 1);
  assertEquals(ss.header("streamtype"), "stdin");
  assertEquals(ss.header("PORT"), "8080");
  await cs.write(text("ping"));
  await cs.end();
  assertEquals(await readAll(ss.readable), "ping");
  await ss.write(text("pong"));
  await ss.end();
  assertEquals(await readAll(cs.readable), "pong");
  await Promise.all([cs.finished, ss.finished]);
});

Deno.test("SpdySession: stream ids go 1, 3, 5 and each stream keeps its own data", async () => {
  const streams: SpdyStream[] = [];
  await using p = pair((s) => {
    s.reply();
    streams.push(s);
  });
  const opened = await Promise.all([1, 2, 3].map((n) => p.client.openStream({ n: String(n) })));
  assertEquals(opened.map((s) => s.id), [1, 3, 5]);
  await Promise.all(opened.map(async (s, i) => {
    await s.write(text(`stream ${i}`));
    await s.end();
  }));
  const got = await Promise.all(
    streams.map(async (s) => `${s.header("n")}:${await readAll(s.readable)}`),
  );
  assertEquals(got.sort(), ["1:stream 0", "2:stream 1", "3:stream 2"]);
});

Deno.test("SpdySession: a refused stream rejects openStream()", async () => {
  await using p = pair((s) => s.reset(RstStatus.RefusedStream));
  const err = await assertRejects(
    () => p.client.openStream({ streamType: "bogus" }),
    SpdyStreamClosed,
  );
  assert(err.message.includes("status 3"), err.message);
});

Deno.test("SpdySession: a write larger than one frame arrives whole", async () => {
  const accepted = Promise.withResolvers<SpdyStream>();
  await using p = pair((s) => {
    s.reply();
    accepted.resolve(s);
  });
  const cs = await p.client.openStream({});
  const big = new Uint8Array(300_000).map((_, i) => i % 251);
  const sending = cs.write(big).then(() => cs.end());
  const ss = await accepted.promise;
  const chunks: Uint8Array[] = [];
  for await (const c of ss.readable) chunks.push(c);
  await sending;
  const got = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    got.set(c, off);
    off += c.byteLength;
  }
  assertEquals(got, big);
});

Deno.test("SpdySession: PING is echoed to the side that sent it", async () => {
  await using p = pair(() => {});
  await p.client.ping();
  await p.server.ping();
});

Deno.test("SpdySession: the end of the connection ends every stream's reader", async () => {
  const accepted = Promise.withResolvers<SpdyStream>();
  await using p = pair((s) => {
    s.reply();
    accepted.resolve(s);
  });
  await p.client.openStream({});
  const ss = await accepted.promise;
  p.client.close();
  assertEquals(await readAll(ss.readable), "");
  await p.server.done;
  await assertRejects(() => ss.write(text("late")), SpdyStreamClosed);
});

Deno.test("SpdySession: a peer-reset stream ends its reader and refuses writes", async () => {
  const accepted = Promise.withResolvers<SpdyStream>();
  await using p = pair((s) => {
    s.reply();
    accepted.resolve(s);
  });
  const cs = await p.client.openStream({});
  const ss = await accepted.promise;
  cs.reset();
  assertEquals(await readAll(ss.readable), "");
  await ss.finished;
  assertEquals(ss.resetStatus, RstStatus.Cancel);
  await assertRejects(() => ss.write(text("x")), SpdyStreamClosed, "reset by peer");
});

Deno.test("SpdySession: a SYN_STREAM with a server-parity id is reset, the session lives on", async () => {
  const [a, b] = memoryTransportPair();
  const seen: number[] = [];
  const server = session(a, { role: "server", onStream: (s) => seen.push(s.id) });
  try {
    // A raw client that sends stream id 2 (even: reserved for the server).
    const reader = new BufferedReader(() => b.read());
    const block = new HeaderDeflater().compress(encodeHeaderBlock([]));
    await b.write(encodeFrame({
      kind: "syn_stream",
      streamId: 2,
      associatedId: 0,
      priority: 0,
      fin: false,
      unidirectional: false,
      block,
    }));
    const reply = await readFrame(reader);
    assertEquals(reply, { kind: "rst_stream", streamId: 2, status: RstStatus.ProtocolError });
    assertEquals(seen, []);
    assert(!server.closed);
  } finally {
    b.close();
    server.close();
    await server.done;
  }
});

Deno.test("SpdySession: garbage on the wire ends the session with GOAWAY", async () => {
  const [a, b] = memoryTransportPair();
  const server = session(a, { role: "server", onStream: () => {} });
  try {
    await b.write(new Uint8Array([0x80, 0x02, 0, 1, 0, 0, 0, 0]));
    const f = await readFrame(new BufferedReader(() => b.read()));
    assertEquals(f?.kind, "goaway");
    await server.done;
    assert(server.closeReason.startsWith("protocol error"), server.closeReason);
  } finally {
    b.close();
    server.close();
  }
});

Deno.test("SpdySession: an idle connection is closed after the idle timeout", async () => {
  await using p = pair(() => {}, { idleTimeoutMs: 30 });
  await p.server.done;
  assertEquals(p.server.closeReason, "idle timeout");
  await p.client.done;
});

Deno.test("SpdySession: shutdown() sends GOAWAY and ends once the peer closes", async () => {
  const accepted = Promise.withResolvers<SpdyStream>();
  await using p = pair((s) => {
    s.reply();
    accepted.resolve(s);
  });
  const cs = await p.client.openStream({});
  const ss = await accepted.promise;
  await ss.write(text("last words"));
  await ss.end();
  const done = p.server.shutdown(5_000);
  // The client still reads everything sent before the GOAWAY, then sees the end.
  assertEquals(await readAll(cs.readable), "last words");
  await p.client.done;
  await done;
  assert(p.server.closed);
  await assertRejects(() => p.client.openStream({}), SpdyStreamClosed);
});
