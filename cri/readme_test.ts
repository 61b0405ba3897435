// test-permissions: --allow-read=README.md
/**
 * README's list of the RPCs sauropod does not implement is the RPC table's: an RPC that gains
 * a handler leaves the list, one without a handler is in it.
 */
import { assertEquals } from "../testing/assert.ts";
import { ImageServiceDefinition, RuntimeServiceDefinition } from "../api/gen/api.ts";
import { defaultConfig } from "../config/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { type CriDeps, imageHandlers, runtimeHandlers } from "./server.ts";
import { streamLimits } from "./batches.ts";

Deno.test("README names exactly the RPCs that have no handler", async () => {
  // Building the tables reaches none of the services; the handlers are never called.
  const deps = { config: defaultConfig(), status: {}, setPodCidr() {} } as unknown as CriDeps;
  const served = new Set([
    ...Object.keys(runtimeHandlers(deps, nullLogger)),
    ...Object.keys(imageHandlers({} as CriDeps["images"], streamLimits(16 << 20))),
  ]);
  const missing = [RuntimeServiceDefinition, ImageServiceDefinition]
    .flatMap((def) => Object.entries(def.methods))
    .filter(([key]) => !served.has(key))
    .map(([, m]) => m.name)
    .sort();
  const readme = await Deno.readTextFile("README.md");
  const block = readme.match(/<!-- unimplemented-rpcs -->([\s\S]*?)<!-- \/unimplemented-rpcs -->/);
  const listed = [...(block?.[1] ?? "").matchAll(/`(\w+)`/g)].map((m) => m[1]!).sort();
  assertEquals(listed, missing);
});
