import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import {
  formatResponse,
  headerHasToken,
  headerList,
  HttpError,
  parseRequestHead,
} from "../lib/http1.ts";
import { terminalSizes } from "./_resize.ts";
import {
  encodeStatusV1,
  encodeStatusV4,
  exitCodeStatus,
  internalErrorStatus,
  SUCCESS,
} from "./_status.ts";
import { isTokenShaped, type StreamRequest, TokenCache } from "./_tokens.ts";
import { BufferedReader, memoryTransportPair, UnexpectedEof } from "../lib/io/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const s of chunks) c.enqueue(enc.encode(s));
      c.close();
    },
  });
}

const req: StreamRequest = { kind: "portforward", podSandboxId: "p", ports: [] };

Deno.test("parseRequestHead() reads the request line, query and repeated headers", () => {
  const head = parseRequestHead(enc.encode(
    "POST /portforward/tok?port=80&port=443 HTTP/1.1\r\nHost: x\r\n" +
      "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\n" +
      "Connection: keep-alive, Upgrade\r\n\r\n",
  ));
  assertEquals(head.method, "POST");
  assertEquals(head.path, "/portforward/tok");
  assertEquals(head.query.getAll("port"), ["80", "443"]);
  assertEquals(headerList(head.headers, "x-stream-protocol-version"), [
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
  ]);
  assert(headerHasToken(head.headers, "connection", "upgrade"));
  assert(!headerHasToken(head.headers, "connection", "close"));
});

Deno.test("parseRequestHead() refuses what it cannot parse", () => {
  const bad = (s: string, status: number) => {
    const e = assertThrows(() => parseRequestHead(enc.encode(s)), HttpError);
    assertEquals(e.status, status, s);
  };
  bad("GET /\r\n\r\n", 400);
  bad("GET / HTTP/2.0\r\n\r\n", 505);
  bad("GET http://x/ HTTP/1.1\r\n\r\n", 400);
  bad("GET / HTTP/1.1\r\nno-colon\r\n\r\n", 400);
  bad("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400);
  bad("G@T / HTTP/1.1\r\n\r\n", 400);
});

Deno.test("formatResponse() writes a status line, headers and a sized body", () => {
  const text = dec.decode(formatResponse(404, [["X-A", "1"]], "nope\n"));
  assert(text.startsWith("HTTP/1.1 404 Not Found\r\nX-A: 1\r\n"), text);
  assert(text.includes("Content-Length: 5\r\n"));
  assert(text.includes("Connection: close\r\n"));
  assert(text.endsWith("\r\n\r\nnope\n"));
  assertThrows(() => formatResponse(200, [["X", "a\r\nInjected: 1"]]), RangeError);
});

Deno.test("BufferedReader hands over bytes past a head to the next reader", async () => {
  const [a, b] = memoryTransportPair();
  const r = new BufferedReader(() => b.read());
  await a.write(enc.encode("GET / HTTP/1.1\r\n\r\nFRAME"));
  await a.write(enc.encode("MORE"));
  await a.closeWrite();
  assertEquals(dec.decode((await r.readHead(1024))!), "GET / HTTP/1.1\r\n\r\n");
  assertEquals(dec.decode((await r.readExact(7))!), "FRAMEMO");
  await assertRejects(() => r.readExact(5), UnexpectedEof);
});

Deno.test("BufferedReader.readHead() finds a delimiter split across chunks", async () => {
  const chunks = ["GET / HTTP/1.1\r", "\n\r", "\nrest"].map((s) => enc.encode(s));
  const r = new BufferedReader(() => Promise.resolve(chunks.shift() ?? null));
  assertEquals(dec.decode((await r.readHead(1024))!), "GET / HTTP/1.1\r\n\r\n");
  assertEquals(dec.decode((await r.readChunk())!), "rest");
  assertEquals(await r.readChunk(), null);
});

Deno.test("TokenCache: tokens are single use, random, and expire", () => {
  let now = 1000;
  const cache = new TokenCache({ ttlMs: 60_000, now: () => now });
  const t1 = cache.insert(req);
  const t2 = cache.insert(req);
  assert(t1 !== t2);
  assert(isTokenShaped(t1) && t1.length === 43, t1);
  assertEquals(cache.consume(t1), req);
  assertEquals(cache.consume(t1), undefined);
  now += 60_000;
  assertEquals(cache.consume(t2), undefined, "expired");
  assertEquals(cache.consume("nonexistent"), undefined);
});

Deno.test("TokenCache: a full cache sweeps expired tokens before refusing", () => {
  let now = 0;
  const cache = new TokenCache({ ttlMs: 10, maxInFlight: 2, now: () => now });
  cache.insert(req);
  cache.insert(req);
  assertThrows(() => cache.insert(req), Error, "too many streaming requests");
  now = 10;
  cache.insert(req);
  assertEquals(cache.size, 1);
});

Deno.test("status encodings match the kubelet's: v4 JSON, v1 text or nothing", () => {
  assertEquals(dec.decode(encodeStatusV4(SUCCESS)), '{"metadata":{},"status":"Success"}');
  assertEquals(encodeStatusV1(SUCCESS), undefined);
  const s = exitCodeStatus(3, ["sh", "-c", "exit 3"]);
  assertEquals(
    dec.decode(encodeStatusV4(s)),
    '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: ' +
      'error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode",' +
      '"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}',
  );
  assertEquals(
    dec.decode(encodeStatusV1(internalErrorStatus("boom"))!),
    "Internal error occurred: boom",
  );
  assertEquals(JSON.parse(dec.decode(encodeStatusV4(internalErrorStatus("boom")))).code, 500);
});

Deno.test("terminalSizes() splits JSON objects however they are chunked", async () => {
  const got = [];
  for await (
    const s of terminalSizes(
      streamOf('{"Width":80,', '"Height":24}\n{"width":1', '00,"height":40}{"Wid'),
    )
  ) got.push(s);
  assertEquals(got, [{ width: 80, height: 24 }, { width: 100, height: 40 }]);
});

Deno.test("terminalSizes() skips malformed sizes and survives braces inside strings", async () => {
  const got = [];
  for await (
    const s of terminalSizes(streamOf(
      '{"Width":-1,"Height":2}',
      '{"Width":"80","Height":24}',
      '{"note":"}{","Width":10,"Height":5}',
      "not json {",
      '"Width":1}',
      '{"Width":70000,"Height":1}',
      '{"Width":12,"Height":7}',
    ))
  ) got.push(s);
  assertEquals(got, [{ width: 10, height: 5 }, { width: 12, height: 7 }]);
});
