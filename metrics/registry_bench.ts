/**
 * The cost the metrics add to a CRI call's path: one `recordRpc` (a histogram observation
 * and a counter increment on cached label children), against a bare timing of the call.
 *
 *   deno bench metrics/registry_bench.ts
 *
 * @module
 */
import { AgentMetrics } from "./registry.ts";

const PATHS = ["/runtime.v1.RuntimeService/Version", "/runtime.v1.RuntimeService/ListContainers"];
const m = new AgentMetrics(PATHS, "bench");
let i = 0;

Deno.bench("performance.now() twice (what the call timing costs anyway)", () => {
  const t = performance.now();
  i += performance.now() - t;
});

Deno.bench("recordRpc: OK", { baseline: true }, () => {
  m.recordRpc(PATHS[i++ & 1]!, 0, 0.0004);
});

Deno.bench("recordRpc: NotFound", () => {
  m.recordRpc(PATHS[i++ & 1]!, 5, 0.002);
});

Deno.bench("recordRpc: unknown path", () => {
  m.recordRpc("/x/y", 12, 0.0001);
});
