import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { ErrorCode, H2Error } from "./_h2_frame.ts";
import { checkTrailers, parseRequestHead } from "./_h2_headers.ts";

const base = [":method", "POST", ":scheme", "http", ":path", "/a.B/C", ":authority", "localhost"];

Deno.test("parseRequestHead() splits pseudo-fields from regular ones", () => {
  const head = parseRequestHead([...base, "content-type", "application/grpc", "te", "trailers"], 1);
  assertEquals(head, {
    method: "POST",
    scheme: "http",
    path: "/a.B/C",
    authority: "localhost",
    fields: ["content-type", "application/grpc", "te", "trailers"],
  });
});

Deno.test("parseRequestHead() accepts a raw socket path as :authority (crictl ≤ 1.28)", () => {
  const fields = [...base.slice(0, 6), ":authority", "/run/sauropod/sauropod.sock"];
  assertEquals(parseRequestHead(fields, 1).authority, "/run/sauropod/sauropod.sock");
  assertEquals(parseRequestHead([...base.slice(0, 6), "host", "h"], 1).authority, "h");
  assertEquals(parseRequestHead(base, 1).contentLength, undefined);
  assertEquals(parseRequestHead([...base, "content-length", "12"], 1).contentLength, 12);
});

Deno.test("parseRequestHead() rejects malformed requests as a PROTOCOL_ERROR stream error", () => {
  const cases: Array<[string, string[]]> = [
    ["uppercase name", [...base, "Content-Type", "x"]],
    ["space in name", [...base, "bad name", "x"]],
    ["pseudo after regular", ["x", "y", ...base]],
    ["duplicate :path", [...base, ":path", "/x"]],
    ["response pseudo-field", [...base, ":status", "200"]],
    ["unknown pseudo-field", [":protocol", "websocket", ...base]],
    ["missing :method", base.slice(2)],
    ["missing :scheme", [...base.slice(0, 2), ...base.slice(4)]],
    ["missing :path", [...base.slice(0, 4), ...base.slice(6)]],
    ["CONNECT", [":method", "CONNECT", ...base.slice(2)]],
    ["connection header", [...base, "connection", "keep-alive"]],
    ["transfer-encoding", [...base, "transfer-encoding", "chunked"]],
    ["te other than trailers", [...base, "te", "gzip"]],
    ["CR in a value", [...base, "x", "a\rb"]],
    ["leading space in a value", [...base, "x", " a"]],
    ["bad content-length", [...base, "content-length", "1e3"]],
    ["conflicting content-length", [...base, "content-length", "1", "content-length", "2"]],
  ];
  for (const [what, fields] of cases) {
    const err = assertThrows(() => parseRequestHead(fields, 3), H2Error);
    assertEquals([err.code, err.streamId], [ErrorCode.PROTOCOL_ERROR, 3], what);
  }
});

Deno.test("checkTrailers() refuses pseudo-fields", () => {
  checkTrailers(["x-a", "1"], 1);
  assertThrows(() => checkTrailers([":path", "/"], 1), H2Error);
});
