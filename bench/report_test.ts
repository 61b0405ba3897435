import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import {
  type BenchReport,
  defaultReportPath,
  figureResult,
  formatNumber,
  renderMachine,
  renderTable,
} from "./report.ts";

const machine = {
  cpu: "AMD EPYC",
  cores: 2,
  memoryBytes: 24 * 2 ** 30,
  kernel: "6.18.44",
  cgroups: "hybrid (v1 controllers)",
  loadAverage: { start: [0.5, 0.4, 0.3], end: [1, 0.9, 0.8] },
  versions: { deno: "2.9.6", runc: "1.1.5" },
};

function report(): BenchReport {
  return {
    schema: 1,
    startedAt: "2026-11-24T08:00:00.000Z",
    finishedAt: "2026-11-24T08:10:00.000Z",
    seconds: 600,
    options: { quick: false, only: null },
    machine,
    environment: {},
    workloads: [
      { name: "start", title: "sequential start", seconds: 10, status: {}, notes: [] },
      {
        name: "restart",
        title: "agent restart",
        seconds: 1,
        status: { sauropod: { state: "skipped", reason: "RunPodSandbox is UNIMPLEMENTED" } },
        notes: [],
      },
      { name: "floor", title: "bare runc", seconds: 1, status: {}, notes: [] },
    ],
    figures: [
      figureResult(
        {
          id: "start.total",
          label: "pod + container",
          unit: "ms",
          kind: "distribution",
          goal: 0.8,
        },
        "start",
        { sauropod: [100, 110, 120], containerd: [200, 220, 240] },
      ),
      figureResult(
        { id: "restart.total", label: "until RUNNING", unit: "s", kind: "value" },
        "restart",
        { containerd: [1.5] },
      ),
      figureResult(
        {
          id: "floor.create_start",
          label: "runc create + start",
          unit: "ms",
          kind: "distribution",
          reference: true,
        },
        "floor",
        { runc: [30, 31, 32] },
      ),
    ],
  };
}

Deno.test("figureResult() summarises each subject and takes the ratio of the p50s", () => {
  const f = report().figures[0]!;
  assertEquals(f.summary.sauropod?.p50, 110);
  assertEquals(f.summary.containerd?.p50, 220);
  assertEquals(f.ratio, 0.5);
});

Deno.test("figureResult() gives no ratio to a reference figure or a one-sided figure", () => {
  const [, restart, floor] = report().figures;
  assertEquals(restart!.ratio, undefined);
  assertEquals(floor!.ratio, undefined);
});

Deno.test("renderTable() prints p50 (p90/p99), the ratio and the goal per figure", () => {
  const table = renderTable(report());
  const row = table.split("\n").find((l) => l.includes("pod + container"))!;
  assertStringIncludes(row, "110 (118/120) n=3");
  assertStringIncludes(row, "220 (236/240) n=3");
  assertStringIncludes(row, "0.50×");
  assertStringIncludes(row, "≤ 0.8×");
});

Deno.test("renderTable() says why a workload was skipped and shows the floor alone", () => {
  const lines = renderTable(report()).split("\n");
  const i = lines.indexOf("-- restart: agent restart");
  assert(i > 0, "restart heading");
  assertStringIncludes(lines[i + 1]!, "sauropod skipped: RunPodSandbox is UNIMPLEMENTED");
  const restart = lines.find((l) => l.includes("until RUNNING"))!;
  assertStringIncludes(restart, "1.50");
  assertStringIncludes(restart, "—");
  assertStringIncludes(
    lines.find((l) => l.includes("runc create + start"))!,
    "runc: 31.0 (31.8/32.0) n=3",
  );
});

Deno.test("formatNumber() keeps about three significant digits", () => {
  assertEquals(formatNumber(228.4), "228");
  assertEquals(formatNumber(59.04), "59.0");
  assertEquals(formatNumber(4.321), "4.32");
  assertEquals(formatNumber(0.3125), "0.313");
});

Deno.test("renderMachine() names CPU, cores, memory, kernel, cgroups and versions", () => {
  const text = renderMachine(machine);
  assertStringIncludes(text, "AMD EPYC, 2 cores, 24.0 GiB, Linux 6.18.44");
  assertStringIncludes(text, "deno 2.9.6, runc 1.1.5");
  assertStringIncludes(text, "0.50 0.40 0.30 at start");
});

Deno.test("defaultReportPath() names the file after the UTC start time", () => {
  assertEquals(
    defaultReportPath(new Date("2026-11-24T08:46:36.123Z"), "bench/results"),
    "bench/results/2026-11-24T084636Z.json",
  );
});
