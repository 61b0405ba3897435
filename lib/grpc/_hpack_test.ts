import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { ErrorCode, H2Error } from "./_h2_frame.ts";
import { DynamicTable, encodeBlock, HpackDecoder } from "./_hpack.ts";
import { huffmanDecode, huffmanEncode } from "./_hpack_huffman.ts";

const hex = (s: string) =>
  new Uint8Array(s.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));
const text = (s: string) => new TextEncoder().encode(s);
const pairs = (fields: string[]) => {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
};
const table = (d: HpackDecoder) => {
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i < d.table.length; i++) out.push(d.table.get(i)!);
  return out;
};
const decoder = (maxTableSize = 4096, maxHeaderListSize = 1 << 20) =>
  new HpackDecoder({ maxTableSize, maxHeaderListSize });

// RFC 7541 Appendix C.2: one field per example, each on a fresh decoder.
Deno.test("HpackDecoder decodes the RFC 7541 C.2 field representations", () => {
  const d1 = decoder();
  assertEquals(
    pairs(
      d1.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")).fields,
    ),
    [["custom-key", "custom-header"]],
  );
  assertEquals(table(d1), [["custom-key", "custom-header"]]);
  assertEquals(d1.table.size, 55);

  const d2 = decoder();
  assertEquals(pairs(d2.decode(hex("040c 2f73 616d 706c 652f 7061 7468")).fields), [[
    ":path",
    "/sample/path",
  ]]);
  assertEquals(d2.table.length, 0);

  const d3 = decoder();
  assertEquals(
    pairs(d3.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")).fields),
    [["password", "secret"]],
  );
  assertEquals(d3.table.length, 0);

  assertEquals(pairs(decoder().decode(hex("82")).fields), [[":method", "GET"]]);
});

const REQUESTS: Array<Array<[string, string]>> = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ],
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ],
];
const REQUEST_TABLES: Array<[Array<[string, string]>, number]> = [
  [[[":authority", "www.example.com"]], 57],
  [[["cache-control", "no-cache"], [":authority", "www.example.com"]], 110],
  [[["custom-key", "custom-value"], ["cache-control", "no-cache"], [
    ":authority",
    "www.example.com",
  ]], 164],
];

for (
  const [name, blocks] of [
    ["C.3 (plain)", [
      "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]],
    ["C.4 (Huffman)", [
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]],
  ] as const
) {
  Deno.test(`HpackDecoder decodes the RFC 7541 ${name} request sequence on one table`, () => {
    const d = decoder();
    blocks.forEach((b, i) => {
      assertEquals(pairs(d.decode(hex(b)).fields), REQUESTS[i]);
      assertEquals([table(d), d.table.size], REQUEST_TABLES[i]);
    });
  });
}

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const URL = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES: Array<Array<[string, string]>> = [
  [[":status", "302"], ["cache-control", "private"], ["date", DATE1], ["location", URL]],
  [[":status", "307"], ["cache-control", "private"], ["date", DATE1], ["location", URL]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", DATE2],
    ["location", URL],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const RESPONSE_TABLES: Array<[Array<[string, string]>, number]> = [
  [[["location", URL], ["date", DATE1], ["cache-control", "private"], [":status", "302"]], 222],
  [[[":status", "307"], ["location", URL], ["date", DATE1], ["cache-control", "private"]], 222],
  [[["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]], 215],
];

for (
  const [name, blocks] of [
    ["C.5 (plain)", [
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ]],
    ["C.6 (Huffman)", [
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]],
  ] as const
) {
  Deno.test(`HpackDecoder decodes the RFC 7541 ${name} responses, evicting at 256 bytes`, () => {
    const d = decoder(256);
    d.table.resize(256);
    blocks.forEach((b, i) => {
      assertEquals(pairs(d.decode(hex(b)).fields), RESPONSES[i]);
      assertEquals([table(d), d.table.size], RESPONSE_TABLES[i]);
    });
  });
}

Deno.test("huffmanEncode() matches the RFC 7541 strings and round-trips every octet", () => {
  assertEquals(huffmanEncode(text("www.example.com")), hex("f1e3c2e5f23a6ba0ab90f4ff"));
  assertEquals(
    huffmanEncode(text(COOKIE)),
    hex(
      "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ),
  );
  const all = new Uint8Array(256).map((_, i) => i);
  assertEquals(huffmanDecode(huffmanEncode(all)), all);
});

Deno.test("huffmanDecode() rejects EOS, long padding and padding that is not all ones", () => {
  for (const bad of ["ffffffff", "ff", "1fff", "00", "18"]) {
    const err = assertThrows(() => huffmanDecode(hex(bad)), H2Error);
    assertEquals(err.code, ErrorCode.COMPRESSION_ERROR, bad);
  }
});

Deno.test("encodeBlock() output decodes back, indexing static matches", () => {
  const fields: Array<[string, string]> = [
    [":status", "200"],
    ["content-type", "application/grpc"],
    ["grpc-status", "0"],
    ["x-long", "v".repeat(300)],
  ];
  const block = encodeBlock(fields);
  assertEquals(block[0], 0x88); // :status 200 is static index 8
  assertEquals(pairs(decoder().decode(block).fields), fields);
  assertThrows(() => encodeBlock([["x", "\u2603"]]), TypeError);
});

Deno.test("DynamicTable evicts oldest first, and an entry larger than the table empties it", () => {
  const t = new DynamicTable(100);
  t.add("a", "1".repeat(10)); // 43
  t.add("b", "2".repeat(10)); // 43
  assertEquals([t.length, t.size], [2, 86]);
  t.add("c", "3".repeat(10)); // evicts a
  assertEquals([t.get(0)?.[0], t.get(1)?.[0], t.get(2)], ["c", "b", undefined]);
  t.resize(50);
  assertEquals([t.length, t.get(0)?.[0]], [1, "c"]);
  t.add("d", "x".repeat(100));
  assertEquals([t.length, t.size], [0, 0]);
});

Deno.test("HpackDecoder flags an HPACK bomb without materialising it and stays in sync", () => {
  const d = decoder(4096, 16 * 1024);
  // One 4000-byte value inserted once, then referenced by 1-byte indexes: a 1 KiB block
  // that expands to 4 MB.
  const insert = encodeLiteralWithIndexing("bomb", "x".repeat(4000));
  const refs = new Uint8Array(1000).fill(0x80 | 62);
  const out = d.decode(concat(insert, refs));
  assert(out.oversized, "oversized");
  assertEquals(out.fields, []);
  assert(out.size > 4_000_000, `size ${out.size}`);
  // The table still holds the entry: the next block can use it.
  assertEquals(pairs(d.decode(new Uint8Array([0x80 | 62])).fields), [["bomb", "x".repeat(4000)]]);
});

Deno.test("HpackDecoder rejects malformed blocks with COMPRESSION_ERROR", () => {
  const cases: Array<[string, Uint8Array]> = [
    ["index 0", hex("80")],
    ["index beyond the tables", hex("be")],
    ["size update above SETTINGS_HEADER_TABLE_SIZE", hex("3fe21f")],
    ["size update after a field", hex("8220")],
    ["truncated string", hex("4005 6162")],
    ["truncated integer", hex("ff")],
    ["integer overflow", hex("ffffffffff7f")],
    ["endless zero continuation", hex("ff8080808080808001")],
    ["Huffman EOS", hex("0085ffffffffff")],
  ];
  for (const [what, block] of cases) {
    const err = assertThrows(() => decoder().decode(block), H2Error, undefined);
    assertEquals([err.code, err.streamId], [ErrorCode.COMPRESSION_ERROR, 0], what);
  }
});

Deno.test("HpackDecoder applies a size update at the start of a block", () => {
  const d = decoder();
  d.decode(encodeLiteralWithIndexing("k", "v"));
  assertEquals(d.table.length, 1);
  assertEquals(pairs(d.decode(hex("20 82")).fields), [[":method", "GET"]]);
  assertEquals([d.table.length, d.table.maxSize], [0, 0]);
});

function encodeLiteralWithIndexing(name: string, value: string): Uint8Array {
  const str = (s: string) => {
    const b = text(s);
    const len = b.length < 127 ? [b.length] : [127, ...varint(b.length - 127)];
    return [...len, ...b];
  };
  return new Uint8Array([0x40, ...str(name), ...str(value)]);
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
