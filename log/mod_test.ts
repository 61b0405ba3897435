import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
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
