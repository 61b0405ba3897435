import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import {
  checkPing,
  ErrorCode,
  Flag,
  FrameReader,
  FrameType,
  FrameWriter,
  H2Error,
  parseGoaway,
  parseHeaders,
  parsePriority,
  parseRstStream,
  parseSettings,
  parseWindowUpdate,
  PREFACE,
  Setting,
  unpad,
} from "./_h2_frame.ts";

function roundTrip(build: (w: FrameWriter) => void) {
  const w = new FrameWriter(16);
  build(w);
  const r = new FrameReader();
  r.push(w.take());
  const out = [];
  for (let f = r.next(); f !== undefined; f = r.next()) {
    out.push({ type: f.type, flags: f.flags, streamId: f.streamId, payload: [...f.payload] });
  }
  assertEquals(r.buffered, 0);
  return out;
}

function h2Error(fn: () => unknown): H2Error {
  return assertThrows(fn, H2Error);
}

Deno.test("FrameWriter and FrameReader round-trip every frame the server sends", () => {
  const frames = roundTrip((w) => {
    w.data(1, true, new Uint8Array([1, 2, 3]));
    w.settings([[Setting.MAX_CONCURRENT_STREAMS, 100], [Setting.INITIAL_WINDOW_SIZE, 1 << 20]]);
    w.settingsAck();
    w.ping(true, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    w.goaway(7, ErrorCode.ENHANCE_YOUR_CALM, "calm");
    w.windowUpdate(3, 0x7fff_ffff);
    w.rstStream(5, ErrorCode.CANCEL);
  });
  assertEquals(frames, [
    { type: FrameType.DATA, flags: Flag.END_STREAM, streamId: 1, payload: [1, 2, 3] },
    {
      type: FrameType.SETTINGS,
      flags: 0,
      streamId: 0,
      payload: [0, 3, 0, 0, 0, 100, 0, 4, 0, 0x10, 0, 0],
    },
    { type: FrameType.SETTINGS, flags: Flag.ACK, streamId: 0, payload: [] },
    { type: FrameType.PING, flags: Flag.ACK, streamId: 0, payload: [1, 2, 3, 4, 5, 6, 7, 8] },
    {
      type: FrameType.GOAWAY,
      flags: 0,
      streamId: 0,
      payload: [0, 0, 0, 7, 0, 0, 0, 0xb, ...new TextEncoder().encode("calm")],
    },
    { type: FrameType.WINDOW_UPDATE, flags: 0, streamId: 3, payload: [0x7f, 0xff, 0xff, 0xff] },
    { type: FrameType.RST_STREAM, flags: 0, streamId: 5, payload: [0, 0, 0, 8] },
  ]);
  assertEquals(parseSettings(new Uint8Array(frames[1]!.payload)), [[3, 100], [4, 1 << 20]]);
  assertEquals(parseGoaway(new Uint8Array(frames[4]!.payload)).lastStreamId, 7);
  assertEquals(parseWindowUpdate(new Uint8Array(frames[5]!.payload), 3), 0x7fff_ffff);
  assertEquals(parseRstStream(new Uint8Array(frames[6]!.payload)), ErrorCode.CANCEL);
});

Deno.test("FrameWriter.headers() splits a large block into HEADERS and CONTINUATION frames", () => {
  const block = new Uint8Array(40).map((_, i) => i);
  const frames = roundTrip((w) => w.headers(9, block, true, 16));
  assertEquals(frames.map((f) => [f.type, f.flags, f.payload.length]), [
    [FrameType.HEADERS, Flag.END_STREAM, 16],
    [FrameType.CONTINUATION, 0, 16],
    [FrameType.CONTINUATION, Flag.END_HEADERS, 8],
  ]);
  assertEquals(frames.flatMap((f) => f.payload), [...block]);
});

Deno.test("FrameReader waits for whole frames and ignores the reserved stream-id bit", () => {
  const r = new FrameReader();
  const bytes = [0, 0, 2, FrameType.DATA, 0, 0x80, 0, 0, 1, 0xaa, 0xbb];
  for (const b of bytes.slice(0, -1)) {
    r.push(new Uint8Array([b]));
    assertEquals(r.next(), undefined);
  }
  r.push(new Uint8Array([0xbb]));
  const f = r.next();
  assertEquals(f?.streamId, 1);
  assertEquals([...f!.payload], [0xaa, 0xbb]);
});

Deno.test("FrameReader rejects a frame over SETTINGS_MAX_FRAME_SIZE from its header alone", () => {
  const r = new FrameReader(16_384);
  r.push(new Uint8Array([0, 0x40, 0x01, FrameType.DATA, 0, 0, 0, 0, 1]));
  const err = h2Error(() => r.next());
  assertEquals([err.code, err.streamId], [ErrorCode.FRAME_SIZE_ERROR, 0]);
});

Deno.test("FrameReader.preface() accepts the preface, waits for more, and rejects HTTP/1.1", () => {
  const r = new FrameReader();
  r.push(PREFACE.subarray(0, 10));
  assertEquals(r.preface(), "more");
  r.push(PREFACE.subarray(10));
  assertEquals(r.preface(), "ok");
  assertEquals(r.buffered, 0);
  const bad = new FrameReader();
  bad.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
  assertEquals(bad.preface(), "bad");
  const early = new FrameReader();
  early.push(new TextEncoder().encode("PRX"));
  assertEquals(early.preface(), "bad");
});

Deno.test("unpad() strips padding and rejects padding as long as the frame", () => {
  assertEquals([...unpad(Flag.PADDED, new Uint8Array([2, 7, 8, 0, 0]), 1)], [7, 8]);
  assertEquals([...unpad(0, new Uint8Array([2, 7]), 1)], [2, 7]);
  const err = h2Error(() => unpad(Flag.PADDED, new Uint8Array([3, 0, 0]), 1));
  assertEquals([err.code, err.streamId], [ErrorCode.PROTOCOL_ERROR, 0]);
  assertEquals(
    h2Error(() => unpad(Flag.PADDED, new Uint8Array(0), 1)).code,
    ErrorCode.FRAME_SIZE_ERROR,
  );
});

Deno.test("parseHeaders() removes padding and the priority block", () => {
  const payload = new Uint8Array([1, 0x80, 0, 0, 3, 16, 0x82, 0x84, 0]);
  const h = parseHeaders(Flag.PADDED | Flag.PRIORITY, payload, 5);
  assertEquals([...h.block], [0x82, 0x84]);
  assertEquals(h.dependency, 3);
  assertEquals(parseHeaders(0, new Uint8Array([0x82]), 1).dependency, undefined);
});

Deno.test("parseSettings() validates values and sizes", () => {
  const s = (id: number, v: number) =>
    new Uint8Array([id >> 8, id & 0xff, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  assertEquals(parseSettings(s(0x99, 5)), [[0x99, 5]]); // unknown: passed through, ignored later
  assertEquals(h2Error(() => parseSettings(new Uint8Array(5))).code, ErrorCode.FRAME_SIZE_ERROR);
  assertEquals(
    h2Error(() => parseSettings(s(Setting.ENABLE_PUSH, 2))).code,
    ErrorCode.PROTOCOL_ERROR,
  );
  assertEquals(
    h2Error(() => parseSettings(s(Setting.INITIAL_WINDOW_SIZE, 0x8000_0000))).code,
    ErrorCode.FLOW_CONTROL_ERROR,
  );
  assertEquals(
    h2Error(() => parseSettings(s(Setting.MAX_FRAME_SIZE, 16_383))).code,
    ErrorCode.PROTOCOL_ERROR,
  );
  assertEquals(
    h2Error(() => parseSettings(s(Setting.MAX_FRAME_SIZE, 1 << 24))).code,
    ErrorCode.PROTOCOL_ERROR,
  );
});

Deno.test("control frame parsers reject wrong sizes with the error the RFC names", () => {
  assertEquals(h2Error(() => parseRstStream(new Uint8Array(3))).code, ErrorCode.FRAME_SIZE_ERROR);
  assertEquals(h2Error(() => checkPing(new Uint8Array(7))).code, ErrorCode.FRAME_SIZE_ERROR);
  assertEquals(h2Error(() => parseGoaway(new Uint8Array(7))).code, ErrorCode.FRAME_SIZE_ERROR);
  assertEquals(
    h2Error(() => parseWindowUpdate(new Uint8Array(5), 1)).code,
    ErrorCode.FRAME_SIZE_ERROR,
  );
  const prio = h2Error(() => parsePriority(new Uint8Array(4), 3));
  assertEquals([prio.code, prio.streamId], [ErrorCode.FRAME_SIZE_ERROR, 3]);
});

Deno.test("a zero WINDOW_UPDATE is a stream error on a stream and a connection error on 0", () => {
  const onStream = h2Error(() => parseWindowUpdate(new Uint8Array(4), 7));
  assertEquals([onStream.code, onStream.streamId], [ErrorCode.PROTOCOL_ERROR, 7]);
  const onConn = h2Error(() => parseWindowUpdate(new Uint8Array(4), 0));
  assertEquals([onConn.code, onConn.streamId], [ErrorCode.PROTOCOL_ERROR, 0]);
  assert(parseWindowUpdate(new Uint8Array([0x80, 0, 0, 1]), 0) === 1, "reserved bit ignored");
});
