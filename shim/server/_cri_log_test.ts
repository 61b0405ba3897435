// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals, assertMatch } from "../../testing/assert.ts";
import { CriLogWriter, LineSplitter, type LogTag } from "./_cri_log.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function split(chunks: string[], max: number, end = true): [LogTag, string][] {
  const s = new LineSplitter(max);
  const out: [LogTag, string][] = [];
  const emit = (tag: LogTag, c: Uint8Array) => out.push([tag, dec(c)]);
  for (const c of chunks) s.push(enc(c), emit);
  if (end) s.end(emit);
  return out;
}

Deno.test("LineSplitter writes each newline-terminated line as F", () => {
  assertEquals(split(["a\nbb\n", "\n"], 16), [["F", "a"], ["F", "bb"], ["F", ""]]);
});

Deno.test("LineSplitter joins a line that arrives in several chunks", () => {
  assertEquals(split(["he", "ll", "o\nwor", "ld\n"], 16), [["F", "hello"], ["F", "world"]]);
});

Deno.test("LineSplitter drops the CR of a CRLF line ending, and only that one", () => {
  assertEquals(split(["a\r\n", "b\r", "\n", "c\rd\n"], 16), [["F", "a"], ["F", "b"], [
    "F",
    "c\rd",
  ]]);
});

Deno.test("LineSplitter writes a last line without newline as P when the stream ends", () => {
  assertEquals(split(["done\nno newline"], 16), [["F", "done"], ["P", "no newline"]]);
  assertEquals(split(["x\n"], 16), [["F", "x"]]);
});

Deno.test("LineSplitter cuts a long line into P pieces of the limit, then F", () => {
  assertEquals(split(["abcdefghij\n"], 4), [["P", "abcd"], ["P", "efgh"], ["F", "ij"]]);
  assertEquals(split(["ab", "cdefgh", "ij\n"], 4), [["P", "abcd"], ["P", "efgh"], ["F", "ij"]]);
});

Deno.test("LineSplitter keeps a line of exactly the limit whole, CRLF or not", () => {
  assertEquals(split(["abcd\n"], 4), [["F", "abcd"]]);
  assertEquals(split(["abcd\r", "\n"], 4), [["F", "abcd"]]);
  assertEquals(split(["abcdefgh\n"], 4), [["P", "abcd"], ["F", "efgh"]]);
});

Deno.test("LineSplitter cuts an unfinished over-long line at the end into P pieces only", () => {
  assertEquals(split(["abcdefghij"], 4), [["P", "abcd"], ["P", "efgh"], ["P", "ij"]]);
});

Deno.test("CriLogWriter writes both streams in the CRI format and survives a reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-crilog-" });
  try {
    const path = `${dir}/0.log`;
    const w = CriLogWriter.open(path, { maxLen: 8 });
    w.write("stdout", enc("hello\nlong line here\n"));
    w.write("stderr", enc("oops\n"));
    await Deno.rename(path, `${dir}/0.log.1`);
    w.write("stdout", enc("after rename, before reopen\n"));
    w.reopen();
    w.write("stdout", enc("tail"));
    w.end("stdout");
    w.end("stderr");
    w.close();
    const first = (await Deno.readTextFile(`${dir}/0.log.1`)).split("\n");
    const second = (await Deno.readTextFile(path)).split("\n");
    const ts = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z";
    assertMatch(first[0]!, new RegExp(`^${ts} stdout F hello$`));
    assertEquals(first.slice(1).map((l) => l.replace(/^\S+ /, "")), [
      "stdout P long lin",
      "stdout F e here",
      "stderr F oops",
      "stdout P after re",
      "stdout P name, be",
      "stdout P fore reo",
      "stdout F pen",
      "",
    ]);
    assertEquals(second.map((l) => l.replace(/^\S+ /, "")), ["stdout P tail", ""]);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o640);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
