// deno-lint-ignore-file no-console
/**
 * Where sauropod's time went in a bench run: `deno run -A bench/profile.ts <report>.json`
 * reads the agent log the bench keeps beside the report (`<report>.json.sauropod.log`) and
 * prints, per workload of the run (by the time its lines were logged) and per logged
 * operation ("container created": its spans, see `lib/spans.ts`, and the shim's create
 * timings), the p50 and p90 of every numeric field.
 *
 * @module
 */
import type { BenchReport } from "./report.ts";
import { summarize } from "./stats.ts";

/**
 * The numeric `…Ms=value` fields of the log lines whose message is `message`, logged at or
 * after `from` and before `to` (ISO 8601, compared as text: the log's timestamps are UTC).
 */
export function fieldsOf(
  text: string,
  message: string,
  from = "",
  to = "\uffff",
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of text.split("\n")) {
    if (!line.includes(` ${message} `) && !line.endsWith(` ${message}`)) continue;
    const at = line.slice(0, line.indexOf(" "));
    if (at < from || at >= to) continue;
    for (const m of line.matchAll(/(\w+)=(-?\d+(?:\.\d+)?)(?=\s|$)/g)) {
      const v = Number(m[2]);
      if (!Number.isFinite(v) || !m[1]!.endsWith("Ms")) continue;
      const list = out.get(m[1]!) ?? [];
      list.push(v);
      out.set(m[1]!, list);
    }
  }
  return out;
}

/** The table for `message`: field, p50, p90, n. */
export function profileTable(text: string, message: string, from?: string, to?: string): string {
  const rows = [`${message}:`];
  for (const [k, vs] of fieldsOf(text, message, from, to)) {
    const s = summarize(vs);
    if (!s) continue;
    rows.push(
      `  ${k.padEnd(16)} p50 ${s.p50.toFixed(1).padStart(7)} ms   p90 ${
        s.p90.toFixed(1).padStart(7)
      } ms   n=${s.n}`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("usage: bench/profile.ts <report.json | agent log>");
    Deno.exit(2);
  }
  if (!path.endsWith(".json")) {
    console.log(profileTable(await Deno.readTextFile(path), "container created"));
    Deno.exit(0);
  }
  const report = JSON.parse(await Deno.readTextFile(path)) as BenchReport;
  const text = await Deno.readTextFile(`${path}.sauropod.log`);
  const ws = report.workloads.filter((w) => w.startedAt);
  for (const [i, w] of ws.entries()) {
    const table = profileTable(text, "container created", w.startedAt, ws[i + 1]?.startedAt);
    if (table.includes("\n")) console.log(`-- ${w.name}: ${w.title}\n${table}`);
  }
}
