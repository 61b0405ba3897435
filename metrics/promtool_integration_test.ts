/**
 * The exposition as Prometheus's own linter sees it: `promtool check metrics` (Debian's
 * `prometheus` package, installed by `./run setup test`) exits 0 only for text that parses
 * and follows the naming rules (counters end in `_total` and nothing else does, base
 * units, help on every family).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { PROMTOOL, promtool } from "../testing/promtool.ts";
import { AgentMetrics } from "./registry.ts";

/** Every family populated, as after a busy hour: the linter sees every sample kind. */
async function busyExposition(): Promise<string> {
  const m = new AgentMetrics(
    ["/runtime.v1.RuntimeService/RunPodSandbox", "/runtime.v1.ImageService/PullImage"],
    "0.0.0-test",
  );
  m.setSources({
    containers: () => ({ created: 1, running: 2, exited: 3, unknown: 0 }),
    pods: () => ({ ready: 2, notready: 1 }),
    shims: () => ({ container: 2, pause: 1, spare: 1 }),
    oomKills: () => 1,
    eventsDropped: () => 4,
    shimsLost: () => 1,
    shimsReconnected: () => 2,
  });
  m.recordRpc("/runtime.v1.RuntimeService/RunPodSandbox", 0, 0.2);
  m.recordRpc("/runtime.v1.ImageService/PullImage", 5, 0.01);
  m.recordRpc("/bogus/Method", 12, 0.0001);
  m.pullStarted()({ bytes: 5 << 20, seconds: 1 });
  m.pullStarted()({ bytes: 0, seconds: 0.1, failure: "unavailable" });
  m.pullStarted();
  m.recordUnpack(0.3);
  m.recordGc({ seconds: 0.02, blobs: 2, snapshots: 1 });
  m.recordCni("ADD", 0.05, true);
  m.recordCni("DEL", 0.01, false);
  return await m.expose();
}

Deno.test({
  name: PROMTOOL
    ? "promtool check metrics accepts the agent's exposition"
    : "promtool check metrics accepts the agent's exposition (SKIPPED: promtool is not " +
      "installed; `./run setup test` installs Debian's prometheus package)",
  ignore: !PROMTOOL,
  fn: async () => {
    const text = await busyExposition();
    assert(text.includes("process_open_fds "), "the process families are read (-A, /proc)");
    const r = await promtool(text);
    assertEquals(r.out.trim(), "", "promtool's findings");
    assertEquals(r.code, 0);
  },
});

Deno.test({
  name: "promtool check metrics refuses what it should (the check can fail)",
  ignore: !PROMTOOL,
  fn: async () => {
    // A gauge named like a counter, as containerd's in-progress pulls gauge is.
    const bad = "# HELP sauropod_image_pulls_in_progress_total x\n" +
      "# TYPE sauropod_image_pulls_in_progress_total gauge\n" +
      "sauropod_image_pulls_in_progress_total 1\n";
    const r = await promtool(bad);
    assert(r.code !== 0, r.out);
    assert(r.out.includes('non-counter metrics should not have "_total" suffix'), r.out);
  },
});
