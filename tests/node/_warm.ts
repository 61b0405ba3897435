/**
 * Loads, without running, every module the node tier runs in its guest: the agent (its
 * serve and check paths), the shim, and the tests with their harness. `run.ts` runs this
 * on the host with the shared DENO_DIR, so the host's Deno writes their V8 code cache
 * there and the emulated guest skips most compilation (measured: an agent start in the
 * guest takes 9.6 s with a cold code cache, 3.7 s with this one).
 *
 * `Deno.test` registers nothing outside `deno test`, so importing the tests is inert.
 *
 * @module
 */
const root = new URL("../../", import.meta.url);
const modules = ["app/agent.ts", "app/check.ts", "app/cli.ts", "shim/server/main.ts"];
for await (const e of Deno.readDir(new URL("tests/node/", root))) {
  if (e.isFile && e.name.endsWith("_test.ts")) modules.push(`tests/node/${e.name}`);
}
for (const m of modules.sort()) await import(new URL(m, root).href);
