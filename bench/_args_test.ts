import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { parseBenchArgs } from "./_args.ts";

const W = ["version", "start", "floor"];

Deno.test("parseBenchArgs() defaults to the full suite and the default JSON path", () => {
  assertEquals(parseBenchArgs([], W), {
    quick: false,
    client: "inprocess",
    agent: null,
    memoryPods: null,
    only: null,
    json: null,
    list: false,
    help: false,
  });
});

Deno.test("parseBenchArgs() reads --quick, --only and --json", () => {
  assertEquals(
    parseBenchArgs(["--quick", "--only", "start, version", "--json", "/tmp/r.json"], W),
    {
      quick: true,
      client: "inprocess",
      agent: null,
      memoryPods: null,
      only: ["start", "version"],
      json: "/tmp/r.json",
      list: false,
      help: false,
    },
  );
  assertEquals(parseBenchArgs(["--only=floor"], W).only, ["floor"]);
  assertEquals(parseBenchArgs(["--client", "process"], W).client, "process");
  assertEquals(parseBenchArgs(["--memory-pods", "110"], W).memoryPods, 110);
});

Deno.test("parseBenchArgs() refuses unknown workloads, flags and an empty --only", () => {
  const e = assertThrows(() => parseBenchArgs(["--only", "start,nope"], W), SauropodError);
  assertEquals(e.kind, "invalid-argument");
  assertThrows(() => parseBenchArgs(["--only", ","], W), SauropodError);
  assertThrows(() => parseBenchArgs(["--fast"], W), SauropodError);
  assertThrows(() => parseBenchArgs(["extra"], W), SauropodError);
  assertThrows(() => parseBenchArgs(["--client", "crictl"], W), SauropodError);
  assertThrows(() => parseBenchArgs(["--memory-pods", "0"], W), SauropodError);
});
