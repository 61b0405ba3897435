/** Reading a README walkthrough and comparing its outputs. */
import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { outputMismatch, walkthrough } from "./walkthrough.ts";

const README = [
  "# x",
  "## First pod",
  "text",
  "```sh",
  "crictl pull busybox",
  "# Image is up to date for sha256:<id>",
  "",
  "POD=$(crictl runp pod.json)",
  'crictl rmp "$POD"',
  "# Removed sandbox <id>",
  "#",
  "```",
  "## Next",
  "```sh",
  "not this",
  "```",
].join("\n");

Deno.test("walkthrough() reads the commands of a section's sh block with the lines under each", () => {
  assertEquals(walkthrough(README, "First pod"), [
    { lineNo: 5, line: "crictl pull busybox", expected: ["Image is up to date for sha256:<id>"] },
    { lineNo: 8, line: "POD=$(crictl runp pod.json)", expected: [] },
    { lineNo: 9, line: 'crictl rmp "$POD"', expected: ["Removed sandbox <id>", ""] },
  ]);
  assertThrows(() => walkthrough(README, "Last pod"), Error, 'no "## Last pod" section');
  assertThrows(() => walkthrough("## A\n```sh\n# out\nx\n```\n", "A"), Error, "before any command");
  assertThrows(() => walkthrough("## A\n## B\n```sh\nx\n```\n", "A"), Error, "no sh block");
  assertThrows(() => walkthrough("## A\n```sh\nx\n", "A"), Error, "not closed");
});

Deno.test("outputMismatch() matches <…> to anything and blanks to blanks, line for line", () => {
  const ps = [
    "CONTAINER           IMAGE     CREATED           STATE",
    "<id>                busybox   <n seconds> ago   Running",
  ];
  const printed = "CONTAINER           IMAGE     CREATED                  STATE\n" +
    "37ec30eb966e1       busybox   Less than a second ago   Running\n";
  assertEquals(outputMismatch(ps, printed), undefined);
  assertEquals(outputMismatch([], ""), undefined);
  assertEquals(outputMismatch(["a"], "a\nb\n"), "printed 2 line(s), README shows 1");
  assertEquals(
    outputMismatch(["hello from <who>"], "hello from\n"),
    'line 1 differs: printed "hello from", README shows "hello from <who>"',
  );
  assertEquals(outputMismatch(["a.b"], "axb\n")?.startsWith("line 1 differs"), true);
});
