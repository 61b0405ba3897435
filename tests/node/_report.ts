/**
 * The real-node tier's report: the guest's `deno test --junit-path` output read back on the
 * host, per-test results with durations, phase timings, and the `N passed, N failed` line.
 * Pure: `run.ts` does the I/O.
 *
 * @module
 */

/** One test or step from the JUnit report. */
export interface TestCase {
  /** The test file (`./tests/node/cgroup_v2_test.ts`). */
  file: string;
  /** The test name; a step's is `<test> > <step>`. */
  name: string;
  /** Set on steps: the name of the test they belong to. */
  parent?: string;
  seconds: number;
  outcome: "passed" | "failed" | "ignored";
  /** The failure message, for failures. */
  message?: string;
}

const ENTITIES: Record<string, string> = {
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
  "&amp;": "&",
};

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (m) => ENTITIES[m]!);
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescapeXml(m[1]!) : undefined;
}

/**
 * Parses the JUnit XML Deno 2 writes: `<testsuite name=FILE>` holding `<testcase>`s, each
 * with an optional `<failure message=…>` or `<skipped/>`. Steps are testcases named
 * `<test> > <step>` and are linked to their test through {@link TestCase.parent}.
 */
export function parseJunit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  const suiteRe = /<testsuite\b([^>]*)>([\s\S]*?)<\/testsuite>/g;
  for (const suite of xml.matchAll(suiteRe)) {
    // The file of the Deno.test or t.step call (a step helper's file, for steps made there).
    const file = attr(suite[1]!, "name") ?? "?";
    const caseRe = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
    for (const c of suite[2]!.matchAll(caseRe)) {
      const body = c[3] ?? "";
      const failure = /<failure\b([^>]*)>/.exec(body);
      const tc: TestCase = {
        file,
        name: attr(c[1]!, "name") ?? "?",
        seconds: Number(attr(c[1]!, "time") ?? "0") || 0,
        outcome: failure ? "failed" : /<skipped\s*\/?>/.test(body) ? "ignored" : "passed",
      };
      if (failure) tc.message = attr(failure[1]!, "message") ?? "failed";
      cases.push(tc);
    }
  }
  // A step's parent is the longest other name it starts with, followed by " > ".
  for (const tc of cases) {
    let best: string | undefined;
    for (const other of cases) {
      if (other !== tc && tc.name.startsWith(`${other.name} > `)) {
        if (!best || other.name.length > best.length) best = other.name;
      }
    }
    if (best !== undefined) tc.parent = best;
  }
  return cases;
}

/**
 * The test files the guest stopped before they reported, from its `unfinished` file (one
 * `<file> <limit s> <why>` line each; why is `timed-out`, `not-started` or `signal-<n>`), as
 * failed cases. `logs` maps a file to its `deno test` output, whose tail goes into the
 * message: it names the test that was running.
 */
export function unfinishedCases(text: string, logs: ReadonlyMap<string, string>): TestCase[] {
  const cases: TestCase[] = [];
  for (const line of text.split("\n")) {
    const [file, limitText, why] = line.trim().split(/\s+/);
    if (!file || !why) continue;
    const limit = Number(limitText) || 0;
    const what = why === "timed-out"
      ? `ran out of its ${limit} s time limit`
      : why === "not-started"
      ? `not started: the guest's ${limit} s budget was spent`
      : why.startsWith("signal-")
      ? `deno test died of signal ${why.slice("signal-".length)}`
      : why;
    const tail = (logs.get(file) ?? "").trimEnd().split("\n").filter((l) => l.trim())
      .slice(-10);
    const message = why === "not-started"
      ? what
      : [`${what}; the last lines of its output:`, ...(tail.length ? tail : ["(none)"])]
        .join("\n");
    cases.push({
      file,
      name: `${file} did not finish (${what})`,
      seconds: why === "timed-out" ? limit : 0,
      outcome: "failed",
      message,
    });
  }
  return cases;
}

/** Counts of top-level tests (steps are detail, not tests). */
export interface Tally {
  passed: number;
  failed: number;
  ignored: number;
}

/** Tallies the top-level tests of `cases`. */
export function tally(cases: readonly TestCase[]): Tally {
  const t: Tally = { passed: 0, failed: 0, ignored: 0 };
  for (const c of cases) if (c.parent === undefined) t[c.outcome]++;
  return t;
}

/** A named duration. */
export interface Phase {
  name: string;
  seconds: number;
}

/** Where the tests ran, and what happened around them. */
export interface ReportInput {
  cases: readonly TestCase[];
  /** Host and guest phases, in order. */
  phases: readonly Phase[];
  /** `key=value` lines the guest wrote about itself. */
  node: string;
  /** Something that went wrong outside the tests (no report, VM failure). */
  problem?: string;
  /**
   * The run had a `--filter`: the JUnit report marks the tests it left out as skipped, like
   * the ignored ones; those without a skip reason in their name are then left out here.
   */
  filtered?: boolean;
}

/** Whether a case is a test a `--filter` left out (rather than one ignored with a reason). */
function filteredOut(c: TestCase, filtered: boolean | undefined): boolean {
  return filtered === true && c.outcome === "ignored" && !c.name.includes("(skipped:");
}

const MARK = { passed: "ok  ", failed: "FAIL", ignored: "skip" } as const;

/** The first lines of a failure message, indented under its test. */
function excerpt(message: string, lines = 12): string[] {
  const all = message.trimEnd().split("\n");
  const shown = all.slice(0, lines).map((l) => `              ${l}`);
  if (all.length > lines) shown.push(`              … (${all.length - lines} more lines)`);
  return shown;
}

function secs(s: number): string {
  return `${s.toFixed(1).padStart(6)} s`;
}

/** The summary printed at the end of `deno task test:node`, as lines. */
export function formatReport(r: ReportInput): string[] {
  const out = ["", "==== real-node tier (node-vm guest) ===="];
  const node = r.node.trim();
  if (node) {
    out.push("ran in:");
    for (const line of node.split("\n")) out.push(`  ${line}`);
  }
  out.push("tests:");
  const cases = r.cases.filter((c) => !filteredOut(c, r.filtered));
  const tops = cases.filter((c) => c.parent === undefined);
  if (tops.length === 0) out.push("  (no test report)");
  for (const t of tops) {
    out.push(`  ${MARK[t.outcome]} ${secs(t.seconds)}  ${t.name}  [${t.file}]`);
    for (const s of cases.filter((c) => c.parent === t.name)) {
      const short = s.name.slice(t.name.length + 3);
      out.push(`         ${MARK[s.outcome]} ${secs(s.seconds)}  ${short}`);
      if (s.message) out.push(...excerpt(s.message));
    }
    // A test failing only through its steps says so; its own message adds nothing then.
    const stepsFailed = cases.some((c) => c.parent === t.name && c.outcome === "failed");
    if (t.message && t.outcome === "failed" && !stepsFailed) out.push(...excerpt(t.message));
  }
  if (r.phases.length) {
    out.push("phases:");
    for (const p of r.phases) out.push(`  ${secs(p.seconds)}  ${p.name}`);
  }
  if (r.problem) out.push(`problem: ${r.problem}`);
  const n = tally(cases);
  const left = r.cases.filter((c) => c.parent === undefined && filteredOut(c, r.filtered)).length;
  out.push(
    `${n.passed} passed, ${n.failed} failed${n.ignored ? `, ${n.ignored} ignored` : ""}` +
      (left ? ` (${left} filtered out)` : ""),
  );
  return out;
}

/**
 * The `accel=… boot=…s command=…s shutdown=…s total=…s` line node-vm prints last on
 * stderr, as phases (undefined when absent).
 */
export function parseNodeVmTiming(stderr: string): { accel: string; phases: Phase[] } | undefined {
  const line = stderr.split("\n").reverse().find((l) => /\baccel=\S+ boot=/.test(l));
  if (!line) return undefined;
  const phases: Phase[] = [];
  for (const key of ["boot", "command", "shutdown"]) {
    const m = new RegExp(`\\b${key}=([\\d.]+)s`).exec(line);
    if (m) phases.push({ name: `guest ${key}`, seconds: Number(m[1]) });
  }
  return { accel: /\baccel=(\S+)/.exec(line)![1]!, phases };
}

/**
 * The guest's `phases` file (`<name> <epoch seconds>` per line) as the durations between
 * consecutive marks, each named after the mark that ends it.
 */
export function parsePhaseMarks(text: string): Phase[] {
  const marks = text.split("\n").map((l) => l.trim().split(/\s+/)).filter((f) =>
    f.length === 2 && Number.isFinite(Number(f[1]))
  ).map(([name, t]) => ({ name: name!, t: Number(t) }));
  const out: Phase[] = [];
  for (let i = 1; i < marks.length; i++) {
    out.push({ name: `guest: ${marks[i]!.name}`, seconds: marks[i]!.t - marks[i - 1]!.t });
  }
  return out;
}
