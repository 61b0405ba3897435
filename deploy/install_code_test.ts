// test-permissions: --allow-read=.
/**
 * install.sh copies the agent's code folder by folder (its `CODE=(…)` list): a folder the
 * agent loads that the list misses fails only on an installed node, and only when that code
 * runs (metrics/ is imported when an address is set). Every top-level folder of the project
 * is either in the list or named here as not part of the agent.
 */
import { assertEquals } from "../testing/assert.ts";

/** Folders that hold no agent code: tests, benchmarks, tools, docs, examples, modules. */
const NOT_INSTALLED = [
  ".cache",
  ".ci",
  ".git",
  "bench",
  "docs",
  "examples",
  "node_modules",
  "testing",
  "tests",
  "tools",
];

Deno.test("install.sh copies every folder of agent code", async () => {
  const script = await Deno.readTextFile("deploy/install.sh");
  const list = script.match(/^CODE=\(([^)]*)\)/m)?.[1] ?? "";
  const code = new Set(list.split(/\s+/).filter((x) => x !== ""));
  const missing: string[] = [];
  for await (const e of Deno.readDir(".")) {
    if (!e.isDirectory || NOT_INSTALLED.includes(e.name)) continue;
    if (!code.has(e.name)) missing.push(e.name);
  }
  assertEquals(missing.sort(), [], "folders install.sh does not copy (add them to CODE)");
});
