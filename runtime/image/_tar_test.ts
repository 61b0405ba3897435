import { assertEquals, assertRejects, assertThrows } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { tarBytes, type TarItem } from "../../tests/fixtures/_tar_writer.ts";
import { parseNumeric, parsePax, type TarEntry, TarReader } from "./_tar.ts";

const enc = new TextEncoder();

/** Feeds `bytes` in chunks of `chunk` bytes (headers and bodies straddle chunks). */
async function* chunks(bytes: Uint8Array, chunk: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunk) yield bytes.slice(i, i + chunk);
}

async function readAll(bytes: Uint8Array, chunk = 4096) {
  const r = new TarReader(chunks(bytes, chunk));
  const out: { entry: TarEntry; body: string }[] = [];
  for (;;) {
    const e = await r.next();
    if (!e) break;
    let body = "";
    for await (const c of r.body()) body += new TextDecoder().decode(c);
    out.push({ entry: e, body });
  }
  return out;
}

const items: TarItem[] = [
  { path: "dir/", type: "dir", mode: 0o750, uid: 1, gid: 2 },
  { path: "dir/file", type: "file", data: enc.encode("hello"), mode: 0o4755, mtime: 123 },
  { path: "dir/link", type: "symlink", linkname: "file" },
  { path: "dir/hard", type: "hardlink", linkname: "dir/file" },
  { path: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
  { path: "fifo", type: "fifo" },
  { path: `${"x".repeat(120)}/y`, type: "file", data: enc.encode("long") },
  { path: "l", type: "symlink", linkname: "t".repeat(150) },
  { path: "attr", type: "file", data: enc.encode(""), xattrs: { "user.a": "b" } },
];

Deno.test("TarReader reads ustar and PAX members, whatever the chunking", async () => {
  const bytes = await tarBytes(items);
  for (const size of [1, 7, 512, 513, 1 << 16]) {
    const got = await readAll(bytes, size);
    assertEquals(got.map((g) => g.entry.path), items.map((i) => i.path), `chunk ${size}`);
    const file = got[1]!;
    assertEquals(file.body, "hello");
    assertEquals(file.entry.mode, 0o4755);
    assertEquals(file.entry.mtime, 123);
    assertEquals(got[0]!.entry.type, "dir");
    assertEquals([got[0]!.entry.uid, got[0]!.entry.gid], [1, 2]);
    assertEquals(got[2]!.entry.linkname, "file");
    assertEquals(got[3]!.entry.type, "hardlink");
    assertEquals([got[4]!.entry.devmajor, got[4]!.entry.devminor], [1, 3]);
    assertEquals(got[5]!.entry.type, "fifo");
    assertEquals(got[6]!.body, "long");
    assertEquals(got[7]!.entry.linkname, "t".repeat(150));
    assertEquals(new TextDecoder().decode(got[8]!.entry.xattrs?.get("user.a")), "b");
  }
});

Deno.test("TarReader skips unread bodies", async () => {
  const bytes = await tarBytes([
    { path: "a", type: "file", data: new Uint8Array(1000).fill(1) },
    { path: "b", type: "file", data: enc.encode("B") },
  ]);
  const r = new TarReader(chunks(bytes, 100));
  assertEquals((await r.next())?.path, "a");
  const b = await r.next();
  assertEquals(b?.path, "b");
  assertEquals(await r.next(), null);
  assertEquals(await r.next(), null);
});

/** A raw 512-byte header with a correct checksum. */
function rawHeader(fields: Record<number, string | Uint8Array>, magic = "ustar  \0"): Uint8Array {
  const h = new Uint8Array(512);
  for (const [off, v] of Object.entries(fields)) {
    h.set(typeof v === "string" ? enc.encode(v) : v, Number(off));
  }
  h.set(enc.encode(magic), 257);
  h.set(enc.encode("        "), 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("TarReader reads GNU long names and base-256 numbers", async () => {
  const name = "n".repeat(300);
  const data = concat(enc.encode(name), new Uint8Array(1));
  const pad = new Uint8Array((512 - (data.length % 512)) % 512);
  const uid = new Uint8Array(8);
  uid[0] = 0x80;
  uid[7] = 0x10; // 16 in base-256
  const bytes = concat(
    rawHeader({ 0: "././@LongLink", 124: "00000000455\0", 156: "L", 100: "0000644\0" }),
    data,
    pad,
    rawHeader({ 0: "short", 100: "0000644\0", 108: uid, 124: "00000000000\0", 156: "0" }),
    new Uint8Array(1024),
  );
  const got = await readAll(bytes);
  assertEquals(got.length, 1);
  assertEquals(got[0]!.entry.path, name);
  assertEquals(got[0]!.entry.uid, 16);
});

Deno.test("TarReader rejects bad checksums, truncation and sparse members", async () => {
  const good = await tarBytes([{ path: "a", type: "file", data: enc.encode("abc") }]);
  const corrupt = good.slice();
  corrupt[10] = 0x41;
  await assertRejects(() => readAll(corrupt), SauropodError, "checksum");
  await assertRejects(() => readAll(good.slice(0, 512 + 2)), SauropodError, "truncated");
  await assertRejects(() => readAll(good.slice(0, 300)), SauropodError, "truncated in a header");
  const sparse = concat(
    rawHeader({ 0: "s", 124: "00000000000\0", 156: "S" }),
    new Uint8Array(1024),
  );
  await assertRejects(() => readAll(sparse), SauropodError, "sparse");
  const odd = concat(rawHeader({ 0: "v", 124: "00000000000\0", 156: "V" }), new Uint8Array(1024));
  await assertRejects(() => readAll(odd), SauropodError, "unsupported type");
});

Deno.test("TarReader ignores the size field of links (they have no body)", async () => {
  const bytes = concat(
    rawHeader({ 0: "h", 124: "00000001000\0", 156: "1", 157: "t" }, "ustar\u000000"),
    rawHeader({ 0: "next", 124: "00000000000\0", 156: "0" }, "ustar\u000000"),
    new Uint8Array(1024),
  );
  const got = await readAll(bytes);
  assertEquals(got.map((g) => [g.entry.path, g.entry.type, g.entry.size]), [
    ["h", "hardlink", 0],
    ["next", "file", 0],
  ]);
});

Deno.test("TarReader treats a V7 regular entry with a trailing slash as a directory", async () => {
  const bytes = concat(
    rawHeader({ 0: "old/", 100: "0000755\0", 124: "00000000000\0", 156: "\0" }, "\0\0\0\0\0\0\0\0"),
    new Uint8Array(1024),
  );
  const got = await readAll(bytes);
  assertEquals(got[0]!.entry.type, "dir");
});

Deno.test("TarReader ends cleanly without the end-of-archive blocks", async () => {
  const bytes = await tarBytes([{ path: "a", type: "file", data: enc.encode("x") }], {
    end: false,
  });
  assertEquals((await readAll(bytes)).length, 1);
});

Deno.test("parseNumeric() reads octal with padding and refuses junk", () => {
  assertEquals(parseNumeric(enc.encode("0000755\0"), "mode"), 0o755);
  assertEquals(parseNumeric(enc.encode("  755 \0"), "mode"), 0o755);
  assertEquals(parseNumeric(new Uint8Array(8), "mode"), 0);
  assertThrows(() => parseNumeric(enc.encode("0009\0"), "mode"), SauropodError, "not octal");
  assertThrows(() => parseNumeric(new Uint8Array([0xff, 0, 0]), "uid"), SauropodError, "negative");
});

Deno.test("parsePax() reads records with binary values and refuses bad lengths", () => {
  const rec = (k: string, v: string) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return `${len}${body}`;
  };
  const m = parsePax(enc.encode(rec("path", "a/b") + rec("SCHILY.xattr.user.x", "v=1")));
  assertEquals(new TextDecoder().decode(m.get("path")), "a/b");
  assertEquals(new TextDecoder().decode(m.get("SCHILY.xattr.user.x")), "v=1");
  assertThrows(() => parsePax(enc.encode("99 path=a\n")), SauropodError, "length");
  assertThrows(() => parsePax(enc.encode("9 path=ab")), SauropodError);
});
