/**
 * The node tier's report, from the JUnit XML Deno 2.9 writes (a sample of its exact shape:
 * steps are testcases named `<test> > <step>`, in the suite of the file that called
 * `t.step`). Pure: runs anywhere, needs no permission.
 */
import { assertEquals, assertStringIncludes } from "../../testing/assert.ts";
import {
  formatReport,
  parseJunit,
  parseNodeVmTiming,
  parsePhaseMarks,
  tally,
  unfinishedCases,
} from "./_report.ts";

const XML = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="6" failures="2" errors="0" time="0.012">
    <testsuite name="./tests/node/a_test.ts" tests="3" disabled="1" errors="0" failures="1">
        <testcase name="one" classname="./tests/node/a_test.ts" time="1.500" line="1" col="6">
            <failure message="1 test step failed">1 test step failed.</failure>
        </testcase>
        <testcase name="ign (skipped: why)" classname="./tests/node/a_test.ts" time="0.000" line="2" col="6">
            <skipped/>
        </testcase>
        <testcase name="two &gt; three" classname="./tests/node/a_test.ts" time="0.250" line="3" col="6">
        </testcase>
    </testsuite>
    <testsuite name="./tests/node/_node.ts" tests="3" disabled="0" errors="0" failures="1">
        <testcase name="one &gt; s1" classname="./tests/node/_node.ts" time="0.100" line="1" col="41">
        </testcase>
        <testcase name="one &gt; s2 &amp; &lt;x&gt;" classname="./tests/node/_node.ts" time="0.200" line="1" col="71">
            <failure message="Uncaught Error: boom &lt;b&gt;
second line">Error: boom &lt;b&gt;</failure>
        </testcase>
    </testsuite>
</testsuites>
`;

Deno.test("parseJunit() reads tests, steps from another suite, outcomes and messages", () => {
  const cases = parseJunit(XML);
  assertEquals(cases.map((c) => [c.name, c.outcome, c.parent]), [
    ["one", "failed", undefined],
    ["ign (skipped: why)", "ignored", undefined],
    ["two > three", "passed", undefined],
    ["one > s1", "passed", "one"],
    ["one > s2 & <x>", "failed", "one"],
  ]);
  assertEquals(cases[0]!.seconds, 1.5);
  assertEquals(cases[4]!.message, "Uncaught Error: boom <b>\nsecond line");
});

Deno.test("tally() counts tests, not their steps", () => {
  assertEquals(tally(parseJunit(XML)), { passed: 1, failed: 1, ignored: 1 });
});

Deno.test("formatReport() nests steps, shows failures and ends with the counts line", () => {
  const lines = formatReport({
    cases: parseJunit(XML),
    phases: [{ name: "guest boot", seconds: 12.34 }],
    node: "kernel=6.1.0\n",
  });
  const text = lines.join("\n");
  assertStringIncludes(text, "  kernel=6.1.0");
  assertStringIncludes(text, "  FAIL    1.5 s  one  [./tests/node/a_test.ts]");
  assertStringIncludes(text, "         FAIL    0.2 s  s2 & <x>");
  assertStringIncludes(text, "              second line");
  assertStringIncludes(text, "    12.3 s  guest boot");
  assertEquals(text.includes("1 test step failed"), false, "a step failure is not repeated");
  assertEquals(lines.at(-1), "1 passed, 1 failed, 1 ignored");
});

Deno.test("formatReport() without a report says so and counts nothing", () => {
  const lines = formatReport({
    cases: [],
    phases: [],
    node: "",
    problem: "the guest did not boot",
  });
  assertStringIncludes(lines.join("\n"), "problem: the guest did not boot");
  assertEquals(lines.at(-1), "0 passed, 0 failed");
});

Deno.test("parseNodeVmTiming() reads node-vm's closing line", () => {
  const t = parseNodeVmTiming(
    "node-vm: warning: TCG\nnode-vm: accel=tcg boot=12.6s command=53.4s shutdown=0.3s total=66.2s exit=1\n",
  );
  assertEquals(t, {
    accel: "tcg",
    phases: [
      { name: "guest boot", seconds: 12.6 },
      { name: "guest command", seconds: 53.4 },
      { name: "guest shutdown", seconds: 0.3 },
    ],
  });
  assertEquals(parseNodeVmTiming("node-vm: error: no boot\n"), undefined);
});

Deno.test("parsePhaseMarks() turns marks into the durations between them", () => {
  assertEquals(parsePhaseMarks("start 100.0\ncopied 105.5\n\ngarbage\ntests 150.5\n"), [
    { name: "guest: copied", seconds: 5.5 },
    { name: "guest: tests", seconds: 45 },
  ]);
});

Deno.test("formatReport() leaves out what a --filter skipped, not what was ignored", () => {
  const lines = formatReport({ cases: parseJunit(XML), phases: [], node: "", filtered: true });
  const text = lines.join("\n");
  assertStringIncludes(text, "ign (skipped: why)");
  assertEquals(lines.at(-1), "1 passed, 1 failed, 1 ignored");
  const filtered = formatReport({
    cases: [{ file: "f", name: "other", seconds: 0, outcome: "ignored" }],
    phases: [],
    node: "",
    filtered: true,
  });
  assertEquals(filtered.join("\n").includes("other"), false);
  assertEquals(filtered.at(-1), "0 passed, 0 failed (1 filtered out)");
});

Deno.test("unfinishedCases() fails each stopped file with the tail of its output", () => {
  const log = [
    "running 1 test from ./tests/node/b_test.ts",
    "slow test ...",
    "  step one ... ok (2s)",
  ]
    .concat(Array.from({ length: 12 }, (_, i) => `line ${i}`), ["  the hanging step ...", ""])
    .join("\n");
  const cases = unfinishedCases(
    "./tests/node/b_test.ts 300 timed-out\n./tests/node/c_test.ts 600 not-started\n" +
      "./tests/node/d_test.ts 300 signal-11\n\n",
    new Map([["./tests/node/b_test.ts", log]]),
  );
  assertEquals(cases.map((c) => [c.file, c.outcome, c.seconds, c.parent]), [
    ["./tests/node/b_test.ts", "failed", 300, undefined],
    ["./tests/node/c_test.ts", "failed", 0, undefined],
    ["./tests/node/d_test.ts", "failed", 0, undefined],
  ]);
  const [b, c, d] = cases.map((x) => x.message!.split("\n"));
  assertEquals(b![0], "ran out of its 300 s time limit; the last lines of its output:");
  assertEquals(b!.length, 11);
  assertEquals(b!.at(-1), "  the hanging step ...");
  assertEquals(c, ["not started: the guest's 600 s budget was spent"]);
  assertEquals(d, ["deno test died of signal 11; the last lines of its output:", "(none)"]);
  assertEquals(tally(cases), { passed: 0, failed: 3, ignored: 0 });
  const text = formatReport({ cases, phases: [], node: "" }).join("\n");
  assertStringIncludes(text, "FAIL  300.0 s  ./tests/node/b_test.ts did not finish");
  assertStringIncludes(text, "              the hanging step ...");
  assertStringIncludes(text, "0 passed, 3 failed");
});
