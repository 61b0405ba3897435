import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { Logger } from "./mod.ts";

Deno.test("Logger writes JSON lines with inherited fields", () => {
  const lines: string[] = [];
  const log = new Logger({ format: "json", sink: (l) => lines.push(l) }).with({ rpc: "Version" });
  log.info("done", { ms: 3 });
  const rec = JSON.parse(lines[0] ?? "{}");
  assertEquals([rec.level, rec.msg, rec.rpc, rec.ms], ["info", "done", "Version", 3]);
});

Deno.test("Logger drops lines below its level", () => {
  const lines: string[] = [];
  const log = new Logger({ level: "warn", sink: (l) => lines.push(l) });
  log.info("hidden");
  log.debug("hidden");
  log.warn("shown");
  assertEquals(lines.length, 1);
  assertEquals(log.with({ a: 1 }).enabled("info"), false);
});

Deno.test("Logger text format quotes values that need it", () => {
  const lines: string[] = [];
  new Logger({ sink: (l) => lines.push(l) }).error("failed", { err: new Error("a b"), id: "abc" });
  assertStringIncludes(lines[0] ?? "", 'ERROR failed err="a b" id=abc');
});

Deno.test("setLevel() changes the level of a logger and of every logger derived from it", () => {
  const lines: string[] = [];
  const root = new Logger({ level: "warn", sink: (l) => lines.push(l) });
  const child = root.with({ component: "images" });
  child.info("hidden");
  root.setLevel("debug");
  child.debug("shown");
  assertEquals(child.level, "debug");
  child.setLevel("error");
  root.warn("hidden too");
  assertEquals(lines.length, 1);
  assert(lines[0]!.includes("shown"));
});
