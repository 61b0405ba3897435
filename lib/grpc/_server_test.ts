import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../testing/assert.ts";
import { nullLogger } from "../../log/mod.ts";
import { SauropodError } from "../../errors/mod.ts";
import { ErrorCode, FrameType } from "./_h2_frame.ts";
import { encodeBlock } from "./_hpack.ts";
import { messagePrefix } from "./_message.ts";
import {
  type CallContext,
  type Codec,
  GrpcServer,
  type GrpcServerOptions,
  Status,
  StatusError,
} from "./mod.ts";
import { percentDecode } from "./_status.ts";
import { memoryPipe, RawClient, type RawResponse } from "./_test_util.ts";
import { flood } from "./testing/flood.ts";

const text: Codec<string> = {
  encode: (s) => new TextEncoder().encode(s),
  // Fatal: invalid UTF-8 is how a test sends an undecodable request.
  decode: (b) => new TextDecoder("utf-8", { fatal: true }).decode(b),
};
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

interface Ended {
  method: string;
  code: Status;
  message?: string;
}

interface Harness {
  server: GrpcServer;
  client: RawClient;
  ended: Ended[];
  contexts: CallContext[];
  release: () => void;
  /** Resolves when /t.Echo/Forever's handler returns. */
  foreverDone: Promise<void>;
}

/**
 * A server with test methods, served over an in-memory pipe:
 *   /t.Echo/Say     echoes the request, metadata "x-reply" appended
 *   /t.Echo/Hold    waits until release() or its signal aborts
 *   /t.Echo/Fail    throws what the request names
 *   /t.Echo/Big     answers with a response of the requested size
 *   /t.Echo/Count   streams "0".."n-1", then OK
 *   /t.Echo/Forever streams until its signal aborts
 */
async function withServer(
  fn: (h: Harness) => Promise<void>,
  opts: Partial<GrpcServerOptions> = {},
): Promise<void> {
  const ended: Ended[] = [];
  const contexts: CallContext[] = [];
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const forever = Promise.withResolvers<void>();
  const server = new GrpcServer({
    maxRecvMessageBytes: 1024,
    maxSendMessageBytes: 1024,
    maxConcurrentStreams: 100,
    maxConcurrentCalls: 100,
    logger: nullLogger,
    onCallEnd: (info) => {
      const e: Ended = { method: info.method, code: info.code };
      if (info.message !== undefined) e.message = info.message;
      ended.push(e);
    },
    ...opts,
  });
  server.addUnary("/t.Echo/Say", text, text, async (req, ctx) => {
    contexts.push(ctx);
    await Promise.resolve();
    return req + (ctx.metadata.get("x-reply") ?? "");
  });
  server.addUnary("/t.Echo/Hold", text, text, async (req, ctx) => {
    contexts.push(ctx);
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener("abort", () => resolve(), { once: true });
      void held.then(resolve);
    });
    return req;
  });
  server.addUnary("/t.Echo/Fail", text, text, (req) => {
    if (req === "status") throw new StatusError(Status.NOT_FOUND, 'pod "p1" 100% gone\n');
    if (req === "plain") throw new Error("boom");
    return Promise.reject(new SauropodError("not-found", "mapped"));
  });
  server.addUnary("/t.Echo/Big", text, text, (req) => Promise.resolve("x".repeat(Number(req))));
  // A codec that refuses some answers with a status of its own; any other throw is a bug.
  const picky: Codec<string> = {
    ...text,
    encode: (s) => {
      if (s === "refuse") throw new StatusError(Status.RESOURCE_EXHAUSTED, "too many; stream");
      if (s === "crash") throw new Error("bug");
      return text.encode(s);
    },
  };
  server.addUnary("/t.Echo/Picky", text, picky, (req) => Promise.resolve(req));
  server.addServerStream("/t.Echo/Count", text, text, async (req, _ctx, send) => {
    for (let i = 0; i < Number(req); i++) await send(String(i));
  });
  server.addServerStream("/t.Echo/Forever", text, text, async (_req, ctx, send) => {
    contexts.push(ctx);
    let i = 0;
    try {
      while (!ctx.signal.aborted) {
        await send(String(i++)).catch(() => {});
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      forever.resolve();
    }
  });
  const [a, b] = memoryPipe();
  server.serveConnection(a, "memory#1");
  const client = new RawClient(b);
  await client.start();
  try {
    await fn({ server, client, ended, contexts, release, foreverDone: forever.promise });
  } finally {
    release();
    b.close();
    await server.shutdown(0);
  }
}

async function unary(
  c: RawClient,
  id: number,
  path: string,
  body: string | Uint8Array,
  extra: Array<[string, string]> = [],
): Promise<RawResponse> {
  await c.request(id, path, { extra });
  await c.message(id, typeof body === "string" ? enc(body) : body);
  return await c.response(id);
}

function status(res: RawResponse): [number, string] {
  return [
    Number(res.trailers.get("grpc-status")),
    percentDecode(res.trailers.get("grpc-message") ?? ""),
  ];
}

Deno.test("GrpcServer answers a unary call with headers, the message and OK trailers", async () => {
  await withServer(async ({ client, ended, contexts }) => {
    const res = await unary(client, 1, "/t.Echo/Say", "hi", [["x-reply", "!"], [
      "user-agent",
      "test",
    ]]);
    assertEquals(res.headers.get(":status"), "200");
    assertEquals(res.headers.get("content-type"), "application/grpc");
    assertEquals(res.messages.map(dec), ["hi!"]);
    assertEquals(status(res), [Status.OK, ""]);
    assertEquals(ended, [{ method: "/t.Echo/Say", code: Status.OK }]);
    const ctx = contexts[0]!;
    assertEquals([ctx.method, ctx.peer, ctx.deadline], ["/t.Echo/Say", "memory#1", undefined]);
    assertEquals([...ctx.metadata], [["x-reply", "!"], ["user-agent", "test"]]);
  });
});

Deno.test("GrpcServer serves many calls interleaved on one connection", async () => {
  await withServer(async ({ client }) => {
    const ids = Array.from({ length: 50 }, (_, i) => 2 * i + 1);
    for (const id of ids) await client.request(id, "/t.Echo/Say");
    for (const id of ids) await client.message(id, enc(`m${id}`));
    for (const id of ids) assertEquals((await client.response(id)).messages.map(dec), [`m${id}`]);
  });
});

Deno.test("GrpcServer maps handler errors to statuses with percent-encoded messages", async () => {
  await withServer(async ({ client }) => {
    const res = await unary(client, 1, "/t.Echo/Fail", "status");
    assertEquals(status(res), [Status.NOT_FOUND, 'pod "p1" 100% gone\n']);
    assertStringIncludes(res.trailers.get("grpc-message")!, "100%25 gone%0A");
    assertEquals(res.messages, []);
    assertEquals(status(await unary(client, 3, "/t.Echo/Fail", "plain")), [
      Status.INTERNAL,
      "boom",
    ]);
  });
  await withServer(async ({ client }) => {
    assertEquals(status(await unary(client, 1, "/t.Echo/Fail", "kind")), [
      Status.NOT_FOUND,
      "kind: mapped",
    ]);
  }, {
    toStatus: (err) =>
      err instanceof SauropodError && err.kind === "not-found"
        ? { code: Status.NOT_FOUND, message: `kind: ${err.message}` }
        : { code: Status.UNKNOWN, message: String(err) },
  });
});

Deno.test("GrpcServer names unknown services and methods in UNIMPLEMENTED", async () => {
  await withServer(async ({ client, ended }) => {
    assertEquals(status(await unary(client, 1, "/t.Echo/Nope", "")), [
      Status.UNIMPLEMENTED,
      "unknown method Nope for service t.Echo",
    ]);
    assertEquals(status(await unary(client, 3, "/t.Other/Say", "")), [
      Status.UNIMPLEMENTED,
      "unknown service t.Other",
    ]);
    assertEquals(ended.map((e) => e.code), [Status.UNIMPLEMENTED, Status.UNIMPLEMENTED]);
  });
});

Deno.test("GrpcServer refuses a request over the receive limit without calling the handler", async () => {
  await withServer(async ({ client, contexts }) => {
    const res = await unary(client, 1, "/t.Echo/Say", "x".repeat(1025));
    assertEquals(status(res), [
      Status.RESOURCE_EXHAUSTED,
      "grpc: received message larger than max (1025 vs. 1024)",
    ]);
    assertEquals(contexts.length, 0);
    assertEquals(
      (await unary(client, 3, "/t.Echo/Say", "x".repeat(1024))).messages[0]!.length,
      1024,
    );
  });
});

Deno.test("GrpcServer refuses a response over the send limit", async () => {
  await withServer(async ({ client }) => {
    const res = await unary(client, 1, "/t.Echo/Big", "1025");
    assertEquals(status(res), [
      Status.RESOURCE_EXHAUSTED,
      "grpc: trying to send message larger than max (1025 vs. 1024)",
    ]);
    assertEquals(res.messages, []);
  });
});

Deno.test("a codec's own status reaches the client; any other encode failure is INTERNAL", async () => {
  await withServer(async ({ client }) => {
    const refused = await unary(client, 1, "/t.Echo/Picky", "refuse");
    assertEquals(status(refused), [Status.RESOURCE_EXHAUSTED, "too many; stream"]);
    const [code, msg] = status(await unary(client, 3, "/t.Echo/Picky", "crash"));
    assertEquals(code, Status.INTERNAL);
    assertStringIncludes(msg, "cannot encode the response of /t.Echo/Picky: bug");
    assertEquals((await unary(client, 5, "/t.Echo/Picky", "fine")).messages.map(dec), ["fine"]);
  });
});

Deno.test("GrpcServer answers an undecodable request with INVALID_ARGUMENT naming the method", async () => {
  await withServer(async ({ client }) => {
    const [code, msg] = status(await unary(client, 1, "/t.Echo/Say", new Uint8Array([0xff, 0xfe])));
    assertEquals(code, Status.INVALID_ARGUMENT);
    assertStringIncludes(msg, "/t.Echo/Say");
  });
});

Deno.test("GrpcServer rejects a unary call with zero or two request messages", async () => {
  await withServer(async ({ client, contexts }) => {
    await client.request(1, "/t.Echo/Say", { endStream: true });
    assertEquals(status(await client.response(1))[0], Status.UNIMPLEMENTED);
    await client.request(3, "/t.Echo/Say");
    await client.message(3, enc("a"), false);
    await client.message(3, enc("b"), true);
    assertEquals(status(await client.response(3))[0], Status.UNIMPLEMENTED);
    await client.request(5, "/t.Echo/Say");
    await client.frames((w) => w.data(5, true, new Uint8Array([0, 0, 0, 0, 9, 1])));
    assertEquals(status(await client.response(5))[0], Status.INTERNAL);
    assertEquals(contexts.length, 0);
  });
});

Deno.test("GrpcServer accepts gzip requests and refuses other encodings", async () => {
  const gz = async (s: string) =>
    new Uint8Array(
      await new Response(new Blob([enc(s)]).stream().pipeThrough(new CompressionStream("gzip")))
        .arrayBuffer(),
    );
  await withServer(async ({ client }) => {
    const body = await gz("zipped");
    await client.request(1, "/t.Echo/Say", { extra: [["grpc-encoding", "gzip"]] });
    await client.frames((w) =>
      w.data(1, true, new Uint8Array([...messagePrefix(body.length, true), ...body]))
    );
    const res = await client.response(1);
    assertEquals([status(res), res.messages.map(dec)], [[Status.OK, ""], ["zipped"]]);

    const snappy = await unary(client, 3, "/t.Echo/Say", "x", [["grpc-encoding", "snappy"]]);
    assertEquals(status(snappy)[0], Status.UNIMPLEMENTED);
    assertEquals(snappy.trailers.get("grpc-accept-encoding"), "identity,gzip");

    await client.request(5, "/t.Echo/Say");
    await client.frames((w) =>
      w.data(5, true, new Uint8Array([...messagePrefix(body.length, true), ...body]))
    );
    assertEquals(status(await client.response(5))[0], Status.INTERNAL);
  });
});

Deno.test("GrpcServer answers HTTP-level mistakes with an HTTP status as grpc-go does", async () => {
  await withServer(async ({ client }) => {
    await client.frames((w) =>
      w.headers(
        1,
        encodeBlock([[":method", "GET"], [":scheme", "http"], [":path", "/t.Echo/Say"]]),
        true,
        16_384,
      )
    );
    const get = await client.response(1);
    assertEquals([get.headers.get(":status"), status(get)[0]], ["405", Status.INTERNAL]);
    await client.frames((w) =>
      w.headers(
        3,
        encodeBlock([[":method", "POST"], [":scheme", "http"], [":path", "/t.Echo/Say"], [
          "content-type",
          "text/plain",
        ]]),
        true,
        16_384,
      )
    );
    assertEquals((await client.response(3)).headers.get(":status"), "415");
  });
});

Deno.test("GrpcServer enforces grpc-timeout: DEADLINE_EXCEEDED and the handler's signal aborts", async () => {
  await withServer(async ({ client, contexts }) => {
    const res = await unary(client, 1, "/t.Echo/Hold", "x", [["grpc-timeout", "20m"]]);
    assertEquals(status(res), [Status.DEADLINE_EXCEEDED, "deadline exceeded"]);
    const ctx = contexts[0]!;
    assert(ctx.signal.aborted);
    assertEquals((ctx.signal.reason as StatusError).code, Status.DEADLINE_EXCEEDED);
    assert(ctx.deadline !== undefined && ctx.deadline > Date.now() - 60_000);
    assertEquals(
      status(await unary(client, 3, "/t.Echo/Say", "x", [["grpc-timeout", "1x"]]))[0],
      Status.INTERNAL,
    );
    // Beyond setTimeout's range (2^31-1 ms) the deadline is kept but never fires early.
    const far = await unary(client, 5, "/t.Echo/Say", "far", [["grpc-timeout", "99999999H"]]);
    assertEquals([status(far), far.messages.map(dec)], [[Status.OK, ""], ["far"]]);
    assert(contexts[1]!.deadline! > Date.now() + 1e14);
  });
});

Deno.test("GrpcServer aborts the handler when the client cancels (RST_STREAM)", async () => {
  await withServer(async ({ client, contexts, ended }) => {
    await client.request(1, "/t.Echo/Hold");
    await client.message(1, enc("x"));
    while (contexts.length === 0) await new Promise((r) => setTimeout(r, 1));
    await client.frames((w) => w.rstStream(1, ErrorCode.CANCEL));
    while (!contexts[0]!.signal.aborted) await new Promise((r) => setTimeout(r, 1));
    assertEquals((contexts[0]!.signal.reason as StatusError).code, Status.CANCELLED);
    assertEquals(ended.map((e) => e.code), [Status.CANCELLED]);
  });
});

Deno.test("GrpcServer aborts the handler when the connection is lost", async () => {
  await withServer(async ({ client, contexts, ended }) => {
    await client.request(1, "/t.Echo/Hold");
    await client.message(1, enc("x"));
    while (contexts.length === 0) await new Promise((r) => setTimeout(r, 1));
    client.conn.close();
    while (!contexts[0]!.signal.aborted) await new Promise((r) => setTimeout(r, 1));
    assertEquals((contexts[0]!.signal.reason as StatusError).code, Status.CANCELLED);
    assertEquals(ended.map((e) => [e.code, e.message]), [[Status.CANCELLED, "connection closed"]]);
  });
});

Deno.test("GrpcServer streams server messages, then trailers", async () => {
  await withServer(async ({ client }) => {
    const res = await unary(client, 1, "/t.Echo/Count", "3");
    assertEquals([res.messages.map(dec), status(res)], [["0", "1", "2"], [Status.OK, ""]]);
    const none = await unary(client, 3, "/t.Echo/Count", "0");
    assertEquals([none.messages, status(none)], [[], [Status.OK, ""]]);
  });
});

Deno.test("GrpcServer stops a stream the client cancels and aborts its handler", async () => {
  await withServer(async ({ client, contexts, foreverDone, ended }) => {
    await client.request(1, "/t.Echo/Forever");
    await client.message(1, enc(""));
    await client.until((f) => f.type === FrameType.DATA && f.streamId === 1);
    await client.frames((w) => w.rstStream(1, ErrorCode.CANCEL));
    await foreverDone;
    assert(contexts[0]!.signal.aborted);
    assertEquals(ended.map((e) => e.code), [Status.CANCELLED]);
  });
});

Deno.test("GrpcServer refuses calls beyond maxConcurrentCalls with RESOURCE_EXHAUSTED", async () => {
  await withServer(async ({ client, release }) => {
    await client.request(1, "/t.Echo/Hold");
    await client.message(1, enc("held"));
    const res = await unary(client, 3, "/t.Echo/Say", "x");
    assertEquals(status(res), [Status.RESOURCE_EXHAUSTED, "too many concurrent calls (limit 1)"]);
    release();
    assertEquals((await client.response(1)).messages.map(dec), ["held"]);
  }, { maxConcurrentCalls: 1 });
});

Deno.test("GrpcServer.shutdown() lets a call finish within the grace period", async () => {
  await withServer(async ({ server, client, release, contexts }) => {
    await client.request(1, "/t.Echo/Hold");
    await client.message(1, enc("late"));
    while (contexts.length === 0) await new Promise((r) => setTimeout(r, 1));
    const done = server.shutdown(60_000);
    await client.goaway();
    const ping = await client.until((f) => f.type === FrameType.PING);
    await client.frames((w) => w.ping(true, ping.payload));
    assertEquals((await client.goaway()).lastStreamId, 1);
    release();
    const res = await client.response(1);
    assertEquals([res.messages.map(dec), status(res)], [["late"], [Status.OK, ""]]);
    await done;
    assert(!contexts[0]!.signal.aborted);
  });
});

Deno.test("GrpcServer.shutdown() ends calls still running after the grace with UNAVAILABLE", async () => {
  await withServer(async ({ server, client, contexts }) => {
    await client.request(1, "/t.Echo/Hold");
    await client.message(1, enc("x"));
    while (contexts.length === 0) await new Promise((r) => setTimeout(r, 1));
    await server.shutdown(10);
    const res = await client.response(1);
    assertEquals(status(res), [Status.UNAVAILABLE, "server shutting down"]);
    assertEquals((contexts[0]!.signal.reason as StatusError).code, Status.UNAVAILABLE);
  });
});

Deno.test("GrpcServer refuses bad registrations and options", () => {
  const opts: GrpcServerOptions = {
    maxRecvMessageBytes: 1,
    maxSendMessageBytes: 1,
    maxConcurrentStreams: 1,
    maxConcurrentCalls: 1,
    logger: nullLogger,
  };
  const s = new GrpcServer(opts);
  s.addUnary("/a.B/C", text, text, (r) => Promise.resolve(r));
  assertThrows(
    () => s.addUnary("/a.B/C", text, text, (r) => Promise.resolve(r)),
    SauropodError,
    "already registered",
  );
  assertThrows(
    () => s.addUnary("a.B/C", text, text, (r) => Promise.resolve(r)),
    SauropodError,
    "a.B/C",
  );
  assertThrows(
    () => new GrpcServer({ ...opts, maxConcurrentCalls: 0 }),
    SauropodError,
    "maxConcurrentCalls",
  );
});

Deno.test("GrpcServer refuses a connection buffer smaller than one message", () => {
  const opts: GrpcServerOptions = {
    maxRecvMessageBytes: 1000,
    maxSendMessageBytes: 1000,
    maxConcurrentStreams: 1,
    maxConcurrentCalls: 1,
    logger: nullLogger,
  };
  assertThrows(
    () => new GrpcServer({ ...opts, maxConnectionBufferBytes: 1000 }),
    SauropodError,
    "maxConnectionBufferBytes must be an integer from maxRecvMessageBytes + 5 (1005)",
  );
  assertThrows(
    () => new GrpcServer({ ...opts, maxRecvMessageBytes: 2 ** 31 }),
    SauropodError,
    "maxRecvMessageBytes must be at most 2147418107 (an HTTP/2 window)",
  );
  new GrpcServer({ ...opts, maxConnectionBufferBytes: 1005 });
});

Deno.test("GrpcServer holds at most its buffer limit of 1000 streams each sending 15 MiB of a message", async () => {
  const MiB = 1 << 20;
  const server = new GrpcServer({
    maxRecvMessageBytes: 16 * MiB,
    maxSendMessageBytes: 16 * MiB,
    maxConcurrentStreams: 1000,
    maxConcurrentCalls: 2000,
    logger: nullLogger,
  });
  let handled = 0;
  server.addUnary("/t.Echo/Say", text, text, (req) => {
    handled++;
    return Promise.resolve(req);
  });
  const limit = server.connectionBufferLimit;
  // 1000 streams × the initial 64 KiB window, plus a pool of two 16 MiB messages.
  assertEquals(limit, 1000 * 65_535 + 2 * (16 * MiB + 5));
  const [a, b] = memoryPipe();
  server.serveConnection(a, "memory#flood");
  try {
    const result = await flood(b, {
      streams: 1000,
      path: "/t.Echo/Say",
      declared: 15 * MiB + 1,
      perStream: 15 * MiB,
      // Without a bound the flood would take 15 GB: give up well before.
      onBatch: (sent) => sent <= 2 * limit,
    });
    assertEquals(result.end, "stalled", `sent ${result.sent} bytes, limit ${limit}`);
    assertEquals(result.ended, 0);
    // Everything the client was allowed to send is held, and no more than the limit…
    assertEquals(server.bufferedBytes, result.sent);
    assert(result.sent <= limit, `${result.sent} > ${limit}`);
    // …and the limit is what it is because each stream got its window and two got a
    // reservation for their whole message.
    assert(result.sent >= 1000 * 65_535 + 2 * (15 * MiB - 65_535), `${result.sent}`);
    assertEquals(handled, 0);
  } finally {
    b.close();
    await server.shutdown(0);
  }
  assertEquals(server.bufferedBytes, 0);
});

Deno.test("GrpcServer counts a whole request as buffered until its handler takes it", async () => {
  await withServer(async ({ server, client }) => {
    await client.request(1, "/t.Echo/Say");
    await client.message(1, enc("hello"), false);
    await client.frames((w) => w.ping(false, new Uint8Array(8)));
    await client.until((f) => f.type === FrameType.PING);
    assertEquals(server.bufferedBytes, 5 + 5);
    await client.frames((w) => w.data(1, true, new Uint8Array(0)));
    assertEquals((await client.response(1)).messages.map(dec), ["hello"]);
    assertEquals(server.bufferedBytes, 0);
  });
});
