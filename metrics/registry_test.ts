import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { type Family, parsePromText, sampleValue } from "../testing/prom_text.ts";
import { AgentMetrics, type ScrapeSources } from "./registry.ts";

const RPCS = ["/runtime.v1.RuntimeService/Version", "/runtime.v1.ImageService/PullImage"];

function sources(over: Partial<Record<keyof ScrapeSources, number>> = {}): ScrapeSources {
  return {
    containers: () => ({ created: 1, running: 2, exited: 3, unknown: 0 }),
    pods: () => ({ ready: 4, notready: 1 }),
    shims: () => ({ container: 2, pause: 1, spare: 1 }),
    oomKills: () => over.oomKills ?? 0,
    eventsDropped: () => over.eventsDropped ?? 0,
    shimsLost: () => 0,
    shimsReconnected: () => 0,
  };
}

async function scrape(m: AgentMetrics): Promise<Map<string, Family>> {
  return parsePromText(await m.expose());
}

Deno.test("exposition: one HELP and TYPE per family, promtool's naming rules, text 0.0.4", async () => {
  const m = new AgentMetrics(RPCS, "1.2.3");
  m.setSources(sources());
  m.recordRpc(RPCS[0]!, 0, 0.0003);
  const fams = await scrape(m);
  assertEquals(m.contentType, "text/plain; version=0.0.4; charset=utf-8");
  for (const f of fams.values()) {
    assert(f.help.length > 0, `${f.name} has no help`);
    assert(/^[a-z_]+$/.test(f.name), `${f.name} is not snake_case`);
    assertEquals(f.name.endsWith("_total"), f.type === "counter", f.name);
    assert(!/_(ms|milliseconds|kb|mb|mib|mibps)(_|$)/.test(f.name), `${f.name}: unit`);
    assert(f.name.startsWith("sauropod_") || f.name.startsWith("process_"), f.name);
  }
  for (
    const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
    ]
  ) {
    assert((sampleValue(fams, name) ?? -1) > 0, `${name} is set`);
  }
  assertEquals(fams.get("process_cpu_seconds_total")?.type, "counter");
  assertEquals(fams.get("process_open_fds")?.type, "gauge");
  assertEquals(sampleValue(fams, "sauropod_build_info", { version: "1.2.3" }), 1);
});

Deno.test("exposition: RPC histograms are cumulative with +Inf = _count, codes by name", async () => {
  const m = new AgentMetrics(RPCS, "x");
  const pull = RPCS[1]!;
  for (const s of [0.0004, 0.003, 0.003, 7, 400]) m.recordRpc(pull, 0, s);
  m.recordRpc(pull, 5, 0.01); // NOT_FOUND
  m.recordRpc(pull, 5, 0.01);
  m.recordRpc("/evil/" + "x".repeat(100), 12, 0.001);
  const fams = await scrape(m);
  const h = fams.get("sauropod_grpc_server_handling_seconds")!;
  assertEquals(h.type, "histogram");
  const lbl = { grpc_service: "runtime.v1.ImageService", grpc_method: "PullImage" };
  const buckets = h.samples.filter((s) =>
    s.name.endsWith("_bucket") && s.labels.grpc_method === "PullImage"
  );
  let prev = 0;
  let prevLe = -Infinity;
  for (const b of buckets) {
    const le = b.labels.le === "+Inf" ? Infinity : Number(b.labels.le);
    assert(le > prevLe, "buckets ascend");
    assert(b.value >= prev, "buckets are cumulative");
    [prev, prevLe] = [b.value, le];
  }
  assertEquals(buckets.at(-1)?.labels.le, "+Inf");
  assertEquals(sampleValue(fams, "sauropod_grpc_server_handling_seconds_count", lbl), 7);
  assertEquals(buckets.at(-1)?.value, 7);
  assertEquals(
    sampleValue(fams, "sauropod_grpc_server_handling_seconds_bucket", { ...lbl, le: "0.0005" }),
    1,
  );
  assertEquals(
    sampleValue(fams, "sauropod_grpc_server_handling_seconds_bucket", { ...lbl, le: "300" }),
    6,
  );
  assert(
    Math.abs(sampleValue(fams, "sauropod_grpc_server_handling_seconds_sum", lbl)! - 407.0264) <
      1e-9,
  );
  assertEquals(
    sampleValue(fams, "sauropod_grpc_server_handled_total", { ...lbl, grpc_code: "OK" }),
    5,
  );
  assertEquals(
    sampleValue(fams, "sauropod_grpc_server_handled_total", { ...lbl, grpc_code: "NotFound" }),
    2,
  );
  // A path outside the table is counted, under "unknown": a client cannot add series.
  assertEquals(
    sampleValue(fams, "sauropod_grpc_server_handled_total", {
      grpc_service: "unknown",
      grpc_method: "unknown",
      grpc_code: "Unimplemented",
    }),
    1,
  );
  assert(!(await m.expose()).includes("evil"));
  // Calls never made are there as 0.
  assertEquals(
    sampleValue(fams, "sauropod_grpc_server_handled_total", {
      grpc_method: "Version",
      grpc_code: "OK",
    }),
    0,
  );
});

Deno.test("exposition: pulls, unpack, GC and CNI families move with what they record", async () => {
  const m = new AgentMetrics(RPCS, "x");
  const done = m.pullStarted();
  let fams = await scrape(m);
  assertEquals(sampleValue(fams, "sauropod_image_pulls_in_progress"), 1);
  done({ bytes: 10 << 20, seconds: 2 });
  done({ bytes: 10 << 20, seconds: 2 }); // a second report of the same pull counts nothing
  m.pullStarted()({ bytes: 100, seconds: 1, failure: "not-found" });
  m.pullStarted()({ bytes: 0, seconds: 0.01 }); // all layers present: no throughput sample
  m.recordUnpack(0.2);
  m.recordGc({ seconds: 0.05, blobs: 3, snapshots: 1 });
  m.recordCni("ADD", 0.04, true);
  m.recordCni("DEL", 0.02, false);
  fams = await scrape(m);
  assertEquals(sampleValue(fams, "sauropod_image_pulls_in_progress"), 0);
  assertEquals(sampleValue(fams, "sauropod_image_pulls_success_total"), 2);
  assertEquals(sampleValue(fams, "sauropod_image_pulls_failure_total", { reason: "not-found" }), 1);
  assertEquals(sampleValue(fams, "sauropod_image_pulls_bytes_total"), (10 << 20) + 100);
  assertEquals(sampleValue(fams, "sauropod_image_pull_throughput_bytes_per_second_count"), 1);
  assertEquals(sampleValue(fams, "sauropod_image_pull_throughput_bytes_per_second_sum"), 5 << 20);
  assertEquals(sampleValue(fams, "sauropod_image_layer_unpack_seconds_count"), 1);
  assertEquals(sampleValue(fams, "sauropod_image_gc_seconds_count"), 1);
  assertEquals(sampleValue(fams, "sauropod_image_gc_removed_total", { kind: "blob" }), 3);
  assertEquals(
    sampleValue(fams, "sauropod_cni_operation_duration_seconds_count", { operation: "ADD" }),
    1,
  );
  assertEquals(sampleValue(fams, "sauropod_cni_operation_errors_total", { operation: "DEL" }), 1);
  assertEquals(sampleValue(fams, "sauropod_cni_operation_errors_total", { operation: "ADD" }), 0);
});

Deno.test("exposition: scrape-time gauges and counters read their sources", async () => {
  const m = new AgentMetrics(RPCS, "x");
  let fams = await scrape(m);
  // Before the runtime is built: every state shows 0, counters are absent rather than wrong.
  assertEquals(sampleValue(fams, "sauropod_containers", { state: "running" }), 0);
  let ooms = 2;
  m.setSources({ ...sources(), oomKills: () => ooms, eventsDropped: () => 7 });
  fams = await scrape(m);
  assertEquals(sampleValue(fams, "sauropod_containers", { state: "running" }), 2);
  assertEquals(sampleValue(fams, "sauropod_pods", { state: "notready" }), 1);
  assertEquals(sampleValue(fams, "sauropod_shims", { kind: "spare" }), 1);
  assertEquals(sampleValue(fams, "sauropod_containers_oom_total"), 2);
  assertEquals(sampleValue(fams, "sauropod_container_events_dropped_total"), 7);
  ooms = 5;
  fams = await scrape(m);
  assertEquals(sampleValue(fams, "sauropod_containers_oom_total"), 5);
});

Deno.test("exposition: label values and help are escaped", async () => {
  const m = new AgentMetrics(RPCS, 'v"1\\\n');
  const text = await m.expose();
  assertMatch(text, /sauropod_build_info\{version="v\\"1\\\\\\n"\} 1/);
  assertEquals(sampleValue(parsePromText(text), "sauropod_build_info", { version: 'v"1\\\n' }), 1);
});
