/**
 * The bench's result: its types (the JSON written under `bench/results/`), the summaries
 * computed from the raw samples, and the table printed at the end.
 *
 * @module
 */
import { ratio, summarize, type Summary } from "./stats.ts";

/** The runtimes compared, in table order. */
export const RUNTIMES = ["sauropod", "containerd"] as const;
/** One of {@link RUNTIMES}. */
export type RuntimeName = typeof RUNTIMES[number];
/** Who a sample was measured on: a runtime, or bare runc for the floor. */
export type Subject = RuntimeName | "runc";

/** Units of figures. */
export type Unit = "ms" | "s" | "MiB";

/** What a figure measures. */
export interface FigureSpec {
  /** Stable id, `<workload>.<what>` (e.g. `start.total`). */
  readonly id: string;
  /** What the table calls it. */
  readonly label: string;
  readonly unit: Unit;
  /**
   * `distribution`: many samples of one operation, shown as p50 (p90/p99);
   * `value`: a few readings of one quantity, shown as their median.
   */
  readonly kind: "distribution" | "value";
  /** The sauropod/containerd ratio the project aims at (lower is better), if any. */
  readonly goal?: number;
  /** A runtime-independent floor measured on bare runc: one column, no ratio. */
  readonly reference?: boolean;
}

/** A figure with its raw samples and their summaries. */
export interface FigureResult extends FigureSpec {
  readonly workload: string;
  readonly samples: Partial<Record<Subject, number[]>>;
  readonly summary: Partial<Record<Subject, Summary>>;
  /** sauropod p50 / containerd p50. */
  readonly ratio?: number;
}

/** How a workload went for one subject. */
export type Status =
  | { readonly state: "ok" }
  | { readonly state: "skipped"; readonly reason: string }
  | { readonly state: "failed"; readonly error: string };

/** One workload's outcome. */
export interface WorkloadResult {
  readonly name: string;
  readonly title: string;
  /** When it started (ISO 8601; absent in reports from before it was recorded). */
  readonly startedAt?: string;
  readonly seconds: number;
  readonly status: Partial<Record<Subject, Status>>;
  readonly notes: readonly string[];
}

/** The machine the figures come from. */
export interface MachineNote {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly cgroups: string;
  readonly loadAverage: { readonly start: number[]; readonly end?: number[] };
  readonly versions: Readonly<Record<string, string>>;
}

/** Everything a run produced: the JSON under `bench/results/`. */
export interface BenchReport {
  readonly schema: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly seconds: number;
  readonly options: {
    readonly quick: boolean;
    readonly only: readonly string[] | null;
    /** How CRI calls were made; absent in reports from before `--client`. */
    readonly client?: "inprocess" | "process";
    /** The checkout the agent ran from, when not the bench's own. */
    readonly agent?: string;
  };
  readonly machine: MachineNote;
  /** Names of what the run created on the machine (all removed at the end). */
  readonly environment: Readonly<Record<string, unknown>>;
  readonly workloads: readonly WorkloadResult[];
  readonly figures: readonly FigureResult[];
}

/** Summaries and the ratio of a figure's samples. */
export function figureResult(
  spec: FigureSpec,
  workload: string,
  samples: Partial<Record<Subject, number[]>>,
): FigureResult {
  const summary: Partial<Record<Subject, Summary>> = {};
  for (const [who, s] of Object.entries(samples) as [Subject, number[]][]) {
    const sum = summarize(s);
    if (sum) summary[who] = sum;
  }
  const r = spec.reference ? undefined : ratio(summary.sauropod?.p50, summary.containerd?.p50);
  return { ...spec, workload, samples, summary, ...(r !== undefined ? { ratio: r } : {}) };
}

/** A number with about three significant digits. */
export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

function cell(f: FigureResult, who: Subject): string {
  const s = f.summary[who];
  if (!s) return "—";
  if (f.kind === "value" || s.n === 1) return formatNumber(s.p50);
  return `${formatNumber(s.p50)} (${formatNumber(s.p90)}/${formatNumber(s.p99)}) n=${s.n}`;
}

/** The first line of `text`, at most `max` characters (the JSON keeps all of it). */
function oneLine(text: string, max = 300): string {
  const first = text.split("\n")[0] ?? "";
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}

function statusText(w: WorkloadResult): string | undefined {
  const parts: string[] = [];
  for (const [who, st] of Object.entries(w.status) as [Subject, Status][]) {
    if (st.state === "skipped") parts.push(`${who} skipped: ${st.reason}`);
    if (st.state === "failed") parts.push(`${who} FAILED: ${oneLine(st.error)}`);
  }
  return parts.length > 0 ? parts.join("; ") : undefined;
}

function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}

/**
 * The table: one row per figure, grouped by workload, with sauropod, containerd, their
 * ratio and the goal; distributions as `p50 (p90/p99) n=N`. Workloads that were skipped
 * or failed say so under their title.
 */
export function renderTable(report: BenchReport): string {
  const rows: string[][] = [[
    "figure",
    "unit",
    "sauropod p50 (p90/p99)",
    "containerd p50 (p90/p99)",
    "ratio",
    "goal",
  ]];
  const lines: string[] = [];
  const byWorkload = new Map<string, FigureResult[]>();
  for (const f of report.figures) {
    byWorkload.set(f.workload, [...(byWorkload.get(f.workload) ?? []), f]);
  }
  const groups: { title: string; status?: string; figures: FigureResult[] }[] = [];
  for (const w of report.workloads) {
    const st = statusText(w);
    groups.push({
      title: `${w.name}: ${w.title}`,
      ...(st ? { status: st } : {}),
      figures: byWorkload.get(w.name) ?? [],
    });
  }
  // Title and status lines are spliced in after padding so they do not widen the columns.
  const inserts = new Map<number, string[]>();
  for (const g of groups) {
    inserts.set(rows.length, [`-- ${g.title}`, ...(g.status ? [`   ${g.status}`] : [])]);
    for (const f of g.figures) {
      if (f.reference) {
        rows.push([`  ${f.label}`, f.unit, `runc: ${cell(f, "runc")}`, "", "", ""]);
        continue;
      }
      rows.push([
        `  ${f.label}`,
        f.unit,
        cell(f, "sauropod"),
        cell(f, "containerd"),
        f.ratio !== undefined ? `${f.ratio.toFixed(2)}×` : "—",
        f.goal !== undefined ? `≤ ${f.goal.toFixed(1)}×` : "",
      ]);
    }
  }
  const padded = pad(rows);
  padded.forEach((line, i) => {
    for (const extra of inserts.get(i) ?? []) lines.push(extra);
    lines.push(line);
  });
  for (const extra of inserts.get(padded.length) ?? []) lines.push(extra);
  return lines.join("\n");
}

/** A short paragraph about the machine, printed under the table. */
export function renderMachine(m: MachineNote): string {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  const load = (l: number[] | undefined) => l ? l.map((x) => x.toFixed(2)).join(" ") : "?";
  return [
    `machine: ${m.cpu}, ${m.cores} cores, ${gib} GiB, Linux ${m.kernel}, cgroups ${m.cgroups}`,
    `versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `load average: ${load(m.loadAverage.start)} at start, ${load(m.loadAverage.end)} at end`,
  ].join("\n");
}

/** Writes the report as JSON to `path`, creating its directory. */
export async function writeReport(report: BenchReport, path: string): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(report, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/** `bench/results/<UTC timestamp>.json` for a run started at `startedAt`. */
export function defaultReportPath(startedAt: Date, resultsDir: string): string {
  const stamp = startedAt.toISOString().replace(/[:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${resultsDir}/${stamp}.json`;
}
