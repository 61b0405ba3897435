// test-permissions: --allow-read=lib/spdy/testdata
import { assert, assertEquals, assertRejects, assertThrows } from "../../testing/assert.ts";
import { BufferedReader } from "../io/mod.ts";
import {
  adler32,
  decodeHeaderBlock,
  encodeFrame,
  encodeHeaderBlock,
  type Frame,
  HeaderDeflater,
  HeaderInflater,
  readFrame,
  SPDY3_DICTIONARY,
  SpdyProtocolError,
} from "./mod.ts";

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string): Uint8Array =>
  new Uint8Array((s.replace(/\s+/g, "").match(/../g) ?? []).map((x) => parseInt(x, 16)));

function readerOf(...chunks: Uint8Array[]): BufferedReader {
  const queue = [...chunks];
  return new BufferedReader(() => Promise.resolve(queue.shift() ?? null));
}

async function roundTrip(f: Exclude<Frame, { kind: "unknown" }>): Promise<Frame | null> {
  return await readFrame(readerOf(encodeFrame(f)));
}

Deno.test("the SPDY/3 dictionary is the spec's 1423 bytes, id 0xe3c6a7c2 as browsers send", () => {
  assertEquals(SPDY3_DICTIONARY.byteLength, 1423);
  assertEquals(adler32(SPDY3_DICTIONARY), 0xe3c6a7c2);
});

Deno.test("adler32() matches RFC 1950 on a known string", () => {
  // zlib.adler32(b"Wikipedia") == 0x11E60398
  assertEquals(adler32(new TextEncoder().encode("Wikipedia")), 0x11e60398);
});

Deno.test("encodeFrame() lays out control frames as spdystream reads them", () => {
  // Control bit + version 3, type, flags, 24-bit length, then the body.
  assertEquals(
    hex(encodeFrame({ kind: "rst_stream", streamId: 5, status: 5 })),
    "80030003" + "00000008" + "00000005" + "00000005",
  );
  assertEquals(hex(encodeFrame({ kind: "ping", id: 2 })), "80030006" + "00000004" + "00000002");
  assertEquals(
    hex(encodeFrame({ kind: "goaway", lastGoodStreamId: 7, status: 0 })),
    "80030007" + "00000008" + "00000007" + "00000000",
  );
  assertEquals(
    hex(encodeFrame({ kind: "window_update", streamId: 0, delta: 65536 })),
    "80030009" + "00000008" + "00000000" + "00010000",
  );
  // Data frames: stream id without the control bit, flags (FIN = 1) and length.
  assertEquals(
    hex(encodeFrame({ kind: "data", streamId: 3, fin: true, data: new Uint8Array([0x68, 0x69]) })),
    "00000003" + "01000002" + "6869",
  );
});

Deno.test("encodeFrame() puts priority in the top 3 bits after the associated id", () => {
  const f = encodeFrame({
    kind: "syn_stream",
    streamId: 1,
    associatedId: 0,
    priority: 2,
    fin: false,
    unidirectional: true,
    block: new Uint8Array([0xaa]),
  });
  assertEquals(hex(f), "80030001" + "0200000b" + "00000001" + "00000000" + "40" + "00" + "aa");
});

Deno.test("readFrame() decodes what encodeFrame() wrote, for every frame kind", async () => {
  const frames: Exclude<Frame, { kind: "unknown" }>[] = [
    { kind: "data", streamId: 9, fin: false, data: new Uint8Array([1, 2, 3]) },
    {
      kind: "syn_stream",
      streamId: 11,
      associatedId: 0,
      priority: 7,
      fin: true,
      unidirectional: false,
      block: new Uint8Array([4, 5]),
    },
    { kind: "syn_reply", streamId: 11, fin: false, block: new Uint8Array([6]) },
    { kind: "headers", streamId: 11, fin: true, block: new Uint8Array([7]) },
    { kind: "rst_stream", streamId: 11, status: 3 },
    {
      kind: "settings",
      clear: true,
      entries: [{ flags: 1, id: 7, value: 65536 }, { flags: 0, id: 4, value: 100 }],
    },
    { kind: "ping", id: 3 },
    { kind: "goaway", lastGoodStreamId: 11, status: 1 },
    { kind: "window_update", streamId: 11, delta: 1000 },
  ];
  for (const f of frames) assertEquals(await roundTrip(f), f);
});

Deno.test("readFrame() reassembles a frame split across many reads", async () => {
  const bytes = encodeFrame({ kind: "data", streamId: 1, fin: false, data: new Uint8Array(300) });
  const chunks = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  const f = await readFrame(readerOf(...chunks));
  assert(f?.kind === "data");
  assertEquals(f.data.byteLength, 300);
});

Deno.test("readFrame() returns null at a clean end and fails inside a frame", async () => {
  assertEquals(await readFrame(readerOf()), null);
  const bytes = encodeFrame({ kind: "ping", id: 1 });
  await assertRejects(() => readFrame(readerOf(bytes.subarray(0, 10))));
});

Deno.test("readFrame() ignores unknown control frames and rejects a wrong version", async () => {
  const unknown = unhex("8003000b 00000002 d474");
  assertEquals(await readFrame(readerOf(unknown)), { kind: "unknown", type: 11, flags: 0 });
  const v2 = unhex("80020006 00000004 00000001");
  await assertRejects(() => readFrame(readerOf(v2)), SpdyProtocolError, "version 2");
});

Deno.test("readFrame() rejects fixed-size frames of the wrong size and oversize frames", async () => {
  await assertRejects(
    () => readFrame(readerOf(unhex("80030003 00000004 00000001"))),
    SpdyProtocolError,
    "RST_STREAM",
  );
  const big = encodeFrame({ kind: "data", streamId: 1, fin: false, data: new Uint8Array(2000) });
  await assertRejects(() => readFrame(readerOf(big), 1024), SpdyProtocolError, "exceeds");
});

Deno.test("header blocks round-trip, joining repeated values with NUL", () => {
  const block = encodeHeaderBlock([["StreamType", ["data"]], ["x-multi", ["a", "b"]]]);
  const map = decodeHeaderBlock(block);
  assertEquals(map.get("streamtype"), ["data"]);
  assertEquals(map.get("x-multi"), ["a", "b"]);
  assertEquals(decodeHeaderBlock(encodeHeaderBlock([])).size, 0);
});

Deno.test("decodeHeaderBlock() rejects truncated blocks and absurd pair counts", () => {
  const block = encodeHeaderBlock([["port", ["80"]]]);
  assertThrows(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), SpdyProtocolError);
  assertThrows(() => decodeHeaderBlock(unhex("7fffffff")), SpdyProtocolError, "claims");
});

Deno.test("HeaderInflater decodes a SYN_STREAM a real browser compressed with the dictionary", async () => {
  // A Firefox request captured for proxygen's SPDY codec tests: its zlib header carries
  // FDICT and the dictionary id e3c6a7c2, so it decodes only with the exact dictionary.
  const path = new URL("./testdata/firefox_syn_stream.hex", import.meta.url);
  const frame = await readFrame(readerOf(unhex(await Deno.readTextFile(path))));
  assert(frame?.kind === "syn_stream");
  assertEquals(frame.streamId, 1);
  assertEquals(frame.fin, true);
  const inflater = new HeaderInflater();
  try {
    const headers = decodeHeaderBlock(await inflater.inflate(frame.block));
    assertEquals(headers.get(":method"), ["GET"]);
    assertEquals(headers.get(":path"), ["/status.php"]);
    assertEquals(headers.get(":host"), ["www.afrind.sb.facebook.com"]);
    assertEquals(headers.size, 13);
  } finally {
    inflater.close();
  }
});

Deno.test("HeaderDeflater output decodes block by block in one inflater", async () => {
  const deflater = new HeaderDeflater();
  const inflater = new HeaderInflater();
  try {
    const blocks = [
      encodeHeaderBlock([["streamtype", ["error"]]]),
      encodeHeaderBlock([]),
      encodeHeaderBlock([["big", ["x".repeat(70_000)]]]),
      encodeHeaderBlock([["streamtype", ["stdout"]]]),
    ];
    for (const b of blocks) assertEquals(await inflater.inflate(deflater.compress(b)), b);
  } finally {
    inflater.close();
  }
});

Deno.test("HeaderDeflater starts its stream with FDICT and the dictionary id", () => {
  const first = new HeaderDeflater().compress(new Uint8Array([0, 0, 0, 0]));
  assertEquals(hex(first.subarray(0, 6)), "7820" + "e3c6a7c2");
  assertEquals((first[0]! << 8 | first[1]!) % 31, 0);
});

Deno.test("HeaderInflater refuses garbage and a block that inflates past its cap", async () => {
  const bad = new HeaderInflater();
  try {
    await assertRejects(() => bad.inflate(unhex("00112233445566778899")), SpdyProtocolError);
  } finally {
    bad.close();
  }
  const small = new HeaderInflater(100);
  try {
    const block = new HeaderDeflater().compress(encodeHeaderBlock([["k", ["v".repeat(500)]]]));
    await assertRejects(() => small.inflate(block), SpdyProtocolError, "past 100");
  } finally {
    small.close();
  }
});
