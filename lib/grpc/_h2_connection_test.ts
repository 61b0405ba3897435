import { assert, assertEquals } from "../../testing/assert.ts";
import { nullLogger } from "../../log/mod.ts";
import { CONN_SLACK, H2Connection, type H2Options, type StreamHandler } from "./_h2_connection.ts";
import type { AbortReason, H2Stream } from "./_h2_stream.ts";
import { ErrorCode, Flag, FrameType, PREFACE, Setting } from "./_h2_frame.ts";
import type { RequestHead } from "./_h2_headers.ts";
import { encodeBlock } from "./_hpack.ts";
import { memoryPipe, RawClient, type Received } from "./_test_util.ts";

const OPTS: H2Options = {
  maxConcurrentStreams: 4,
  maxHeaderListSize: 4096,
  initialWindowSize: 65_535,
  connectionBufferBytes: 1 << 20,
  prefaceTimeoutMs: 5_000,
  maxResetsPerInterval: 20,
  resetIntervalMs: 60_000,
  logger: nullLogger,
};

const OK_HEADERS = encodeBlock([[":status", "200"]]);
const TRAILERS = encodeBlock([["grpc-status", "0"]]);

interface Seen {
  heads: RequestHead[];
  aborts: Array<[number, AbortReason, ErrorCode | undefined]>;
  streams: H2Stream[];
}

/** Echoes the request body back once the client finishes, unless `hold` is set. */
function echo(seen: Seen, hold = false): StreamHandler {
  return (stream, head) => {
    seen.heads.push(head);
    seen.streams.push(stream);
    const body: number[] = [];
    return {
      onData: (chunk) => {
        body.push(...chunk);
        stream.consume(chunk.length);
      },
      onEnd: () => {
        if (hold) return;
        stream.respond(OK_HEADERS, false);
        if (body.length > 0) stream.write(new Uint8Array(body));
        stream.end(TRAILERS);
      },
      onAbort: (reason, code) => seen.aborts.push([stream.id, reason, code]),
    };
  };
}

async function withConnection(
  fn: (c: RawClient, seen: Seen, conn: H2Connection) => Promise<void>,
  opts: Partial<H2Options> = {},
  hold = false,
): Promise<void> {
  const [server, client] = memoryPipe();
  const seen: Seen = { heads: [], aborts: [], streams: [] };
  const conn = new H2Connection(server, { ...OPTS, ...opts }, echo(seen, hold));
  const served = conn.serve();
  try {
    await fn(new RawClient(client), seen, conn);
  } finally {
    client.close();
    await served;
  }
}

const isType = (t: FrameType) => (f: Received) => f.type === t;

async function expectGoaway(c: RawClient, code: ErrorCode): Promise<string> {
  const g = await c.goaway();
  assertEquals(ErrorCode[g.code], ErrorCode[code], g.debug);
  // …and then the server closes the connection.
  await c.drain();
  return g.debug;
}

Deno.test("H2Connection sends its SETTINGS, acks the client's, and answers PING", async () => {
  await withConnection(async (c) => {
    await c.start([[Setting.INITIAL_WINDOW_SIZE, 100]]);
    const settings = await c.until((f) => f.type === FrameType.SETTINGS && f.flags === 0);
    const pairs = [];
    for (let i = 0; i < settings.payload.length; i += 6) {
      const v = new DataView(settings.payload.buffer, settings.payload.byteOffset + i);
      pairs.push([v.getUint16(0), v.getUint32(2)]);
    }
    assertEquals(pairs, [
      [Setting.MAX_CONCURRENT_STREAMS, 4],
      [Setting.INITIAL_WINDOW_SIZE, 65_535],
      [Setting.MAX_HEADER_LIST_SIZE, 4096],
      [Setting.ENABLE_PUSH, 0],
    ]);
    const wu = await c.until(isType(FrameType.WINDOW_UPDATE));
    // Every stream's window plus the pool plus the slack for batched credit.
    assertEquals(
      new DataView(wu.payload.buffer).getUint32(0),
      4 * 65_535 + (1 << 20) + CONN_SLACK - 65_535,
    );
    await c.until((f) => f.type === FrameType.SETTINGS && f.flags === Flag.ACK);
    await c.frames((w) => w.ping(false, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])));
    const pong = await c.until(isType(FrameType.PING));
    assertEquals([pong.flags, [...pong.payload]], [Flag.ACK, [1, 2, 3, 4, 5, 6, 7, 8]]);
  });
});

Deno.test("H2Connection serves a request and echoes its body", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    await c.request(1, "/a.B/C", { authority: "/run/sauropod/sauropod.sock" });
    await c.frames((w) => w.data(1, true, new Uint8Array([1, 2, 3])));
    const res = await c.response(1);
    assertEquals(res.headers.get(":status"), "200");
    assertEquals(res.trailers.get("grpc-status"), "0");
    assertEquals(seen.heads[0]?.authority, "/run/sauropod/sauropod.sock");
  });
});

for (
  const [name, bytes, code] of [
    [
      "an HTTP/1.1 request instead of the preface",
      new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"),
      ErrorCode.PROTOCOL_ERROR,
    ],
    [
      "a PING before SETTINGS",
      new Uint8Array([...PREFACE, 0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
      ErrorCode.PROTOCOL_ERROR,
    ],
  ] as const
) {
  Deno.test(`H2Connection answers ${name} with GOAWAY and closes`, async () => {
    await withConnection(async (c) => {
      await c.send(bytes);
      await expectGoaway(c, code);
    });
  });
}

const connectionErrors: Array<[string, (c: RawClient) => Promise<void>, ErrorCode]> = [
  [
    "DATA on an idle stream",
    (c) => c.frames((w) => w.data(5, false, new Uint8Array(1))),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    "DATA on stream 0",
    (c) => c.frames((w) => w.data(0, false, new Uint8Array(1))),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    "a frame over the maximum size",
    (c) => c.frames((w) => w.frame(0x20, 0, 0, new Uint8Array(16_385))),
    ErrorCode.FRAME_SIZE_ERROR,
  ],
  ["HEADERS on an even stream", (c) => c.request(2, "/a.B/C"), ErrorCode.PROTOCOL_ERROR],
  [
    "PUSH_PROMISE",
    (c) => c.frames((w) => w.frame(FrameType.PUSH_PROMISE, 4, 1, new Uint8Array(4))),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    "a malformed HPACK block",
    (c) => c.frames((w) => w.headers(1, new Uint8Array([0x80]), true, 16_384)),
    ErrorCode.COMPRESSION_ERROR,
  ],
  ["a frame inside a header block", (c) =>
    c.frames((w) => {
      w.frame(FrameType.HEADERS, 0, 1, new Uint8Array([0x83]));
      w.ping(false, new Uint8Array(8));
    }), ErrorCode.PROTOCOL_ERROR],
  [
    "CONTINUATION without HEADERS",
    (c) =>
      c.frames((w) => w.frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, new Uint8Array([0x83]))),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    "a connection window over 2^31-1",
    (c) => c.frames((w) => w.windowUpdate(0, 0x7fff_ffff)),
    ErrorCode.FLOW_CONTROL_ERROR,
  ],
  [
    "SETTINGS with a bad length",
    (c) => c.frames((w) => w.frame(FrameType.SETTINGS, 0, 0, new Uint8Array(5))),
    ErrorCode.FRAME_SIZE_ERROR,
  ],
  [
    "SETTINGS on a stream",
    (c) => c.frames((w) => w.frame(FrameType.SETTINGS, 0, 1, new Uint8Array(0))),
    ErrorCode.PROTOCOL_ERROR,
  ],
  [
    "RST_STREAM on an idle stream",
    (c) => c.frames((w) => w.rstStream(7, ErrorCode.CANCEL)),
    ErrorCode.PROTOCOL_ERROR,
  ],
  ["padding longer than the DATA frame", async (c) => {
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.frame(FrameType.DATA, Flag.PADDED, 1, new Uint8Array([9, 0, 0])));
  }, ErrorCode.PROTOCOL_ERROR],
  ["endless CONTINUATION frames", (c) =>
    c.frames((w) => {
      w.frame(FrameType.HEADERS, 0, 1, new Uint8Array(16_000));
      for (let i = 0; i < 4; i++) w.frame(FrameType.CONTINUATION, 0, 1, new Uint8Array(16_000));
    }), ErrorCode.ENHANCE_YOUR_CALM],
];
for (const [name, act, code] of connectionErrors) {
  Deno.test(`H2Connection treats ${name} as a ${ErrorCode[code]} connection error`, async () => {
    await withConnection(async (c) => {
      await c.start();
      await act(c);
      await expectGoaway(c, code);
    });
  });
}

Deno.test("H2Connection resets a malformed request and keeps serving the connection", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    await c.request(1, "/a.B/C", { extra: [["Bad-Name", "x"]], endStream: true });
    assertEquals(await c.rst(1), ErrorCode.PROTOCOL_ERROR);
    await c.request(3, "/a.B/C", { endStream: true });
    assertEquals((await c.response(3)).trailers.get("grpc-status"), "0");
    assertEquals(seen.heads.length, 1);
  });
});

Deno.test("H2Connection refuses streams beyond SETTINGS_MAX_CONCURRENT_STREAMS", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    for (const id of [1, 3, 5, 7, 9]) await c.request(id, "/a.B/C");
    assertEquals(await c.rst(9), ErrorCode.REFUSED_STREAM);
    assertEquals(seen.heads.length, 4);
    // Finishing one frees a slot.
    await c.frames((w) => w.data(1, true, new Uint8Array(0)));
    await c.response(1);
    await c.request(11, "/a.B/C", { endStream: true });
    await c.response(11);
  });
});

Deno.test("H2Connection closes a connection that resets streams too fast (CVE-2023-44487)", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    await c.frames((w) => {
      for (let id = 1; id < 100; id += 2) {
        w.headers(
          id,
          encodeBlock([[":method", "POST"], [":scheme", "http"], [":path", "/x"]]),
          false,
          16_384,
        );
        w.rstStream(id, ErrorCode.CANCEL);
      }
    });
    const debug = await expectGoaway(c, ErrorCode.ENHANCE_YOUR_CALM);
    assert(debug.includes("stream resets"), debug);
    assertEquals(seen.aborts.length, seen.heads.length);
    assert(seen.aborts.every(([, reason]) => reason === "reset" || reason === "connection-lost"));
  });
});

Deno.test("H2Connection answers an oversized header list with 431 and keeps HPACK in step", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    await c.request(1, "/a.B/C", { extra: [["x-big", "v".repeat(5000)]], endStream: true });
    const res = await c.response(1);
    assertEquals(res.headers.get(":status"), "431");
    await c.request(3, "/a.B/C", { endStream: true });
    assertEquals((await c.response(3)).headers.get(":status"), "200");
    assertEquals(seen.heads.length, 1);
  });
});

Deno.test("H2Connection closes a connection that never sends the preface", async () => {
  await withConnection(async (c) => {
    assertEquals((await c.drain()).filter((f) => f.type === FrameType.GOAWAY), []);
  }, { prefaceTimeoutMs: 10 });
});

Deno.test("H2Connection sends DATA only as far as the client's windows allow", async () => {
  await withConnection(async (c) => {
    await c.start([[Setting.INITIAL_WINDOW_SIZE, 10]]);
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.data(1, true, new Uint8Array(25).fill(7)));
    const first = await c.until(isType(FrameType.DATA));
    assertEquals(first.payload.length, 10);
    // Nothing more until the window grows: a PING round trip proves the server is idle.
    await c.frames((w) => w.ping(false, new Uint8Array(8)));
    const next = await c.until((f) => f.type === FrameType.PING || f.type === FrameType.DATA);
    assertEquals(next.type, FrameType.PING);
    await c.frames((w) => w.windowUpdate(1, 100));
    const rest = await c.until(isType(FrameType.DATA));
    assertEquals(rest.payload.length, 15);
    const trailers = await c.until(isType(FrameType.HEADERS));
    assertEquals(trailers.flags & Flag.END_STREAM, Flag.END_STREAM);
  });
});

Deno.test("H2Connection resets a stream whose DATA exceeds its window", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.data(1, false, new Uint8Array(101)));
    assertEquals(await c.rst(1), ErrorCode.FLOW_CONTROL_ERROR);
    assertEquals(seen.aborts, [[1, "protocol-error", ErrorCode.FLOW_CONTROL_ERROR]]);
  }, { initialWindowSize: 100 });
});

Deno.test("H2Connection gives flow-control credit back as it consumes DATA", async () => {
  await withConnection(async (c) => {
    await c.start();
    await c.request(1, "/a.B/C");
    await c.frames((w) => {
      for (let i = 0; i < 3; i++) {
        w.frame(FrameType.DATA, Flag.PADDED, 1, new Uint8Array([100, ...new Uint8Array(16_000)]));
      }
    });
    const wu = await c.until((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1);
    assert(new DataView(wu.payload.buffer).getUint32(0) >= 32_767);
  }, { initialWindowSize: 65_535 });
});

Deno.test("H2Connection handles request trailers, and resets DATA after END_STREAM", async () => {
  await withConnection(async (c) => {
    await c.start();
    await c.request(1, "/a.B/C");
    await c.frames((w) => {
      w.data(1, false, new Uint8Array([1]));
      w.headers(1, encodeBlock([["x-trailer", "1"]]), true, 16_384);
    });
    assertEquals((await c.response(1)).headers.get(":status"), "200");
  });
  await withConnection(
    async (c) => {
      await c.start();
      await c.request(1, "/a.B/C", { endStream: true });
      await c.frames((w) => w.data(1, false, new Uint8Array([1])));
      assertEquals(await c.rst(1), ErrorCode.STREAM_CLOSED);
    },
    {},
    true,
  );
  await withConnection(async (c) => {
    await c.start();
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.headers(1, encodeBlock([["x-trailer", "1"]]), false, 16_384));
    assertEquals(await c.rst(1), ErrorCode.PROTOCOL_ERROR);
  });
});

Deno.test("H2Connection tells the application when the client resets a stream", async () => {
  await withConnection(async (c, seen) => {
    await c.start();
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.rstStream(1, ErrorCode.CANCEL));
    await c.frames((w) => w.ping(false, new Uint8Array(8)));
    await c.until(isType(FrameType.PING));
    assertEquals(seen.aborts, [[1, "reset", ErrorCode.CANCEL]]);
  });
});

Deno.test("H2Connection.drain() brackets in-flight streams with GOAWAY and PING, then closes", async () => {
  await withConnection(async (c, seen, conn) => {
    await c.start();
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.ping(false, new Uint8Array(8)));
    await c.until(isType(FrameType.PING));
    conn.drain();
    const first = await c.goaway();
    assertEquals([first.lastStreamId, first.code], [0x7fff_ffff, ErrorCode.NO_ERROR]);
    const ping = await c.until((f) => f.type === FrameType.PING && f.flags === 0);
    await c.frames((w) => w.ping(true, ping.payload));
    const last = await c.goaway();
    assertEquals([last.lastStreamId, last.code], [1, ErrorCode.NO_ERROR]);
    await c.request(3, "/a.B/C", { endStream: true });
    assertEquals(await c.rst(3), ErrorCode.REFUSED_STREAM);
    await c.frames((w) => w.data(1, true, new Uint8Array([5])));
    const res = await c.response(1);
    assertEquals(res.trailers.get("grpc-status"), "0");
    await c.drain(); // the server closes once stream 1 is done
    assertEquals(seen.heads.length, 1);
  });
});

// ---- receive flow control: credit follows consumption ----

/** A connection whose streams hold what they receive until the test consumes it. */
async function withHolder(
  fn: (c: RawClient, conn: H2Connection, streams: H2Stream[]) => Promise<void>,
  opts: Partial<H2Options> = {},
): Promise<void> {
  const [server, client] = memoryPipe();
  const streams: H2Stream[] = [];
  const conn = new H2Connection(server, { ...OPTS, ...opts }, (stream) => {
    streams.push(stream);
    return { onData() {}, onEnd() {}, onAbort() {} };
  });
  const served = conn.serve();
  try {
    const c = new RawClient(client);
    await c.start();
    await roundTrip(c);
    await fn(c, conn, streams);
  } finally {
    client.close();
    await served;
  }
}

let pings = 0;
/** A PING round trip: the frames the server sent before its ack (it answers in order). */
async function roundTrip(c: RawClient): Promise<Received[]> {
  const opaque = new Uint8Array(8);
  opaque[7] = ++pings;
  await c.frames((w) => w.ping(false, opaque));
  const before: Received[] = [];
  for (;;) {
    const f = await c.next();
    if (f === null) throw new Error("connection closed during a PING round trip");
    if (f.type === FrameType.PING && f.flags === Flag.ACK && f.payload[7] === opaque[7]) {
      return before;
    }
    before.push(f);
  }
}

/** The WINDOW_UPDATEs among `frames`, as [stream, increment]. */
function updates(frames: Received[]): Array<[number, number]> {
  return frames.filter(isType(FrameType.WINDOW_UPDATE)).map((
    f,
  ) => [f.streamId, new DataView(f.payload.buffer).getUint32(0)]);
}

const SMALL = { initialWindowSize: 1000, connectionBufferBytes: 6000 };

Deno.test("H2Connection gives a stream's window back only as the application consumes", async () => {
  await withHolder(async (c, conn, streams) => {
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.data(1, false, new Uint8Array(1000)));
    // Received is not consumed: no credit, and the bytes count as buffered.
    assertEquals(updates(await roundTrip(c)), []);
    assertEquals(conn.bufferedBytes, 1000);
    streams[0]!.consume(400);
    assertEquals(updates(await roundTrip(c)), [], "400 bytes are not worth a frame yet");
    streams[0]!.consume(200);
    assertEquals(updates(await roundTrip(c)), [[1, 600]]);
    assertEquals(conn.bufferedBytes, 400);
    // A client that sends past its window is reset, and what the stream held is dropped.
    await c.frames((w) => w.data(1, false, new Uint8Array(601)));
    assertEquals(await c.rst(1), ErrorCode.FLOW_CONTROL_ERROR);
    assertEquals(conn.bufferedBytes, 0);
  }, SMALL);
});

Deno.test("H2Connection opens the whole window a stream needs at once, from the pool", async () => {
  await withHolder(async (c, conn, streams) => {
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.data(1, false, new Uint8Array(10)));
    await roundTrip(c);
    streams[0]!.need(5000);
    // 10 held + 990 left of the window + 4010 from the pool = the 5000 more it needs.
    assertEquals(updates(await roundTrip(c)), [[1, 4010]]);
    await c.frames((w) => {
      for (let i = 0; i < 5; i++) w.data(1, false, new Uint8Array(1000));
    });
    assertEquals(updates(await roundTrip(c)), []);
    assertEquals(conn.bufferedBytes, 5010);
    // Consumed: the reservation goes back and the stream is back to its initial window.
    streams[0]!.consume(5010);
    assertEquals(updates(await roundTrip(c)), [[1, 1000]]);
    assertEquals(conn.bufferedBytes, 0);
  }, SMALL);
});

Deno.test("H2Connection queues reservations beyond the pool in order and grants them as it frees", async () => {
  await withHolder(async (c, conn, streams) => {
    for (const id of [1, 3, 5]) {
      await c.request(id, "/a.B/C");
      await c.frames((w) => w.data(id, false, new Uint8Array(10)));
    }
    await roundTrip(c);
    const [s1, s3, s5] = streams;
    s1!.need(5000); // 4010 of the pool's 6000
    s3!.need(3000); // 2010: does not fit, waits
    s5!.need(1500); // 510 would fit, but waits its turn behind stream 3
    assertEquals(updates(await roundTrip(c)), [[1, 4010]]);
    await c.frames((w) => {
      for (let i = 0; i < 5; i++) w.data(1, false, new Uint8Array(1000));
    });
    await roundTrip(c);
    assert(conn.bufferedBytes <= conn.bufferLimit);
    s1!.consume(5010);
    assertEquals(updates(await roundTrip(c)), [[1, 1000], [3, 2010], [5, 510]]);
    // A stream that goes away gives its reservation back too.
    await c.frames((w) => w.rstStream(3, ErrorCode.CANCEL));
    s1!.need(5000);
    assertEquals(updates(await roundTrip(c)), [[1, 4000]]);
  }, SMALL);
});

Deno.test("H2Connection treats DATA past the connection window as a FLOW_CONTROL_ERROR connection error", async () => {
  await withHolder(async (c) => {
    // Stream 1 holds its whole window; the connection has the slack left.
    await c.request(1, "/a.B/C");
    await c.frames((w) => w.data(1, false, new Uint8Array(16_384)));
    // Stream 3 is refused; DATA already on its way to it still counts, until the slack
    // runs out before the batch of credit is due.
    await c.request(3, "/a.B/C");
    assertEquals(await c.rst(3), ErrorCode.REFUSED_STREAM);
    await c.frames((w) => {
      for (let i = 0; i < 70; i++) w.data(3, false, new Uint8Array(16_000));
    });
    const debug = await expectGoaway(c, ErrorCode.FLOW_CONTROL_ERROR);
    assert(debug.includes("exceeds the connection window"), debug);
  }, { maxConcurrentStreams: 1, initialWindowSize: 16_384, connectionBufferBytes: 0 });
});
