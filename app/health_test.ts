import { assertEquals } from "../testing/assert.ts";
import { encodeFrame, encodeLiteralHeaders, scanFrames, versionCallBytes } from "./health.ts";

Deno.test("encodeFrame() writes the 9-byte header before the payload", () => {
  const f = encodeFrame(0x1, 0x4, 1, new Uint8Array([9, 8, 7]));
  assertEquals([...f], [0, 0, 3, 0x1, 0x4, 0, 0, 0, 1, 9, 8, 7]);
  const big = encodeFrame(0x0, 0, 3, new Uint8Array(0x012345));
  assertEquals([...big.subarray(0, 9)], [0x01, 0x23, 0x45, 0, 0, 0, 0, 0, 3]);
});

Deno.test("encodeLiteralHeaders() uses literal fields without indexing and no Huffman", () => {
  assertEquals([...encodeLiteralHeaders([["te", "trailers"]])], [
    0x00,
    2,
    ..."te".split("").map((c) => c.charCodeAt(0)),
    8,
    ..."trailers".split("").map((c) => c.charCodeAt(0)),
  ]);
});

Deno.test("encodeLiteralHeaders() continues a length of 127 or more (RFC 7541 §5.1)", () => {
  const bytes = encodeLiteralHeaders([["x", "v".repeat(1337)]]);
  // name "x": 0x00, 1, 'x'; value length 1337 = 127 + 1210 → 0x7f, 0xba (1210 % 128 + 128), 0x09
  assertEquals([...bytes.subarray(0, 6)], [0x00, 1, 0x78, 0x7f, 0xba, 0x09]);
  assertEquals(bytes.length, 6 + 1337);
});

Deno.test("versionCallBytes() starts with the preface and ends the stream with an empty message", () => {
  const b = versionCallBytes();
  assertEquals(new TextDecoder().decode(b.subarray(0, 24)), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  // Last frame: DATA, END_STREAM, stream 1, a 5-byte gRPC message of length 0.
  assertEquals([...b.subarray(b.length - 14)], [0, 0, 5, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
});

Deno.test("scanFrames() acknowledges server SETTINGS and waits for more", () => {
  let acks = 0;
  const settings = encodeFrame(0x4, 0, 0, new Uint8Array(6));
  const settingsAck = encodeFrame(0x4, 0x1, 0);
  const buf = new Uint8Array([...settings, ...settingsAck]);
  const { verdict, used } = scanFrames(buf, () => acks++);
  assertEquals(verdict, { kind: "more" });
  assertEquals(used, buf.length);
  assertEquals(acks, 1);
});

Deno.test("scanFrames() counts response headers on the call's stream as an answer", () => {
  const other = encodeFrame(0x1, 0x4, 3, new Uint8Array(2));
  const headers = encodeFrame(0x1, 0x4, 1, new Uint8Array([0x88]));
  const { verdict } = scanFrames(new Uint8Array([...other, ...headers]), () => {});
  assertEquals(verdict, { kind: "answered" });
});

Deno.test("scanFrames() keeps a partial frame for the next read", () => {
  const headers = encodeFrame(0x1, 0x4, 1, new Uint8Array([0x88, 0x89]));
  const first = scanFrames(headers.subarray(0, 10), () => {});
  assertEquals(first, { verdict: { kind: "more" }, used: 0 });
  assertEquals(scanFrames(headers, () => {}).verdict, { kind: "answered" });
});

Deno.test("scanFrames() reports a reset stream or GOAWAY as a refusal", () => {
  const rst = encodeFrame(0x3, 0, 1, new Uint8Array([0, 0, 0, 7]));
  assertEquals(scanFrames(rst, () => {}).verdict, {
    kind: "refused",
    why: "stream reset (code 7)",
  });
  const goaway = encodeFrame(0x7, 0, 0, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 11]));
  assertEquals(scanFrames(goaway, () => {}).verdict, {
    kind: "refused",
    why: "connection closed (GOAWAY code 11)",
  });
});
