import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import {
  ByteReader,
  decodeExit,
  decodeResize,
  encodeExit,
  encodeFrame,
  encodeLine,
  encodeResize,
  FrameType,
  isContainerId,
  parseExitInfo,
  SerialWriter,
} from "./protocol.ts";

/** A stream delivering `chunks` as they are (to split frames and lines anywhere). */
function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

Deno.test("ByteReader reads a hello line, then frames from the same bytes, split anywhere", async () => {
  const bytes = concat(
    encodeLine({ v: 1, id: "c", kind: "attach" }),
    encodeFrame(FrameType.STDOUT, new TextEncoder().encode("hello")),
    encodeFrame(FrameType.STDOUT),
    encodeExit({ exitCode: 3 }),
  );
  for (let cut = 1; cut < bytes.byteLength; cut += 3) {
    const r = new ByteReader(streamOf(bytes.subarray(0, cut), bytes.subarray(cut)));
    assertEquals(JSON.parse((await r.readLine())!), { v: 1, id: "c", kind: "attach" });
    const f1 = await r.readFrame();
    assertEquals(f1?.type, FrameType.STDOUT);
    assertEquals(new TextDecoder().decode(f1!.payload), "hello");
    assertEquals((await r.readFrame())?.payload.byteLength, 0);
    assertEquals(decodeExit((await r.readFrame())!.payload), { exitCode: 3 });
    assertEquals(await r.readFrame(), null);
  }
});

Deno.test("ByteReader refuses an over-long line and a frame cut by the end of the stream", async () => {
  const long = new ByteReader(streamOf(new Uint8Array(100).fill(65)));
  await assertRejects(() => long.readLine(10), Error, "longer than 10");
  const cut = new ByteReader(
    streamOf(encodeFrame(FrameType.STDERR, new Uint8Array(8)).subarray(0, 9)),
  );
  await assertRejects(() => cut.readFrame(), Error, "inside a frame");
  const big = new ByteReader(streamOf(encodeFrame(FrameType.STDIN, new Uint8Array(64))));
  await assertRejects(() => big.readFrame(16), Error, "exceeds 16");
});

Deno.test("resize and exit frames round-trip", () => {
  const f = encodeResize({ width: 321, height: 45 });
  assertEquals(f[0], FrameType.RESIZE);
  assertEquals(decodeResize(f.subarray(5)), { width: 321, height: 45 });
  assertEquals(decodeExit(encodeExit({ exitCode: 137, timedOut: true }).subarray(5)), {
    exitCode: 137,
    timedOut: true,
  });
});

Deno.test("parseExitInfo() accepts a record and rejects a malformed one", () => {
  const ok = {
    exitCode: 137,
    signal: 9,
    exitedAt: "2026-01-01T00:00:00.000000001Z",
    exitedAtNs: "1767225600000000001",
    oomKilled: true,
  };
  assertEquals(parseExitInfo(ok), ok);
  for (
    const bad of [null, { ...ok, exitedAtNs: 5 }, { ...ok, oomKilled: "no" }, {
      ...ok,
      signal: "9",
    }]
  ) {
    let threw = false;
    try {
      parseExitInfo(bad);
    } catch {
      threw = true;
    }
    assertEquals(threw, true, JSON.stringify(bad));
  }
});

Deno.test("SerialWriter writes in order, completes short writes, and fails later writes after an error", async () => {
  const got: number[] = [];
  let fail = false;
  const w = new SerialWriter({
    write(p: Uint8Array): Promise<number> {
      if (fail) return Promise.reject(new Error("broken pipe"));
      got.push(p[0]!); // one byte at a time: a short write every time
      return Promise.resolve(1);
    },
  });
  await Promise.all([w.write(new Uint8Array([1, 2])), w.write(new Uint8Array([3]))]);
  assertEquals(got, [1, 2, 3]);
  assertEquals(w.queued, 0);
  fail = true;
  await assertRejects(() => w.write(new Uint8Array([4])), Error, "broken pipe");
  assertEquals(w.failed, true);
  await assertRejects(() => w.write(new Uint8Array([5])), Error, "broken pipe");
});

Deno.test("isContainerId() accepts the CRI's ids and refuses paths and unit separators", () => {
  assert(isContainerId("a".repeat(64)));
  assert(isContainerId("web-1_b.2"));
  for (const bad of ["", "../x", "a/b", "a..b", ".a", "-a", "a b", "a".repeat(129), "a:b"]) {
    assert(!isContainerId(bad), JSON.stringify(bad));
  }
});
