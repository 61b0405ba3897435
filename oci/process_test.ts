import { assertEquals } from "../testing/assert.ts";
import { assertFails } from "./_test_fixtures.ts";
import { checkEnvVar, mergeArgs, mergeEnv } from "./process.ts";

const image = { entrypoint: ["/ep-1"], cmd: ["foo", "bar"] };

Deno.test("mergeArgs() follows Docker's entrypoint/cmd table", () => {
  const cases: [string[], string[], string[]][] = [
    // command, args, runs
    [[], [], ["/ep-1", "foo", "bar"]],
    [["/ep-2"], [], ["/ep-2"]],
    [[], ["zoo", "boo"], ["/ep-1", "zoo", "boo"]],
    [["/ep-2"], ["zoo", "boo"], ["/ep-2", "zoo", "boo"]],
  ];
  for (const [command, args, want] of cases) {
    assertEquals(mergeArgs(image, command, args, "f"), want, `command=${command} args=${args}`);
  }
});

Deno.test("mergeArgs() runs the image cmd alone when the image has no entrypoint", () => {
  assertEquals(mergeArgs({ entrypoint: [], cmd: ["sh", "-c", "x"] }, [], [], "f"), [
    "sh",
    "-c",
    "x",
  ]);
  assertEquals(mergeArgs({ entrypoint: [], cmd: ["sh"] }, [], ["date"], "f"), ["date"]);
});

Deno.test("mergeArgs() treats an entrypoint of one empty string as none", () => {
  assertEquals(mergeArgs({ entrypoint: [""], cmd: ["sh"] }, [], [], "f"), ["sh"]);
});

Deno.test("mergeArgs() without any command is invalid-argument", () => {
  assertFails(
    () => mergeArgs({ entrypoint: [], cmd: [] }, [], [], "container.command"),
    "invalid-argument",
    "container.command: no command specified",
  );
  assertFails(
    () => mergeArgs({ entrypoint: [""], cmd: [] }, [], [], "f"),
    "invalid-argument",
    "no command specified",
  );
});

Deno.test("mergeEnv() replaces by key in place and appends new keys", () => {
  assertEquals(mergeEnv(["A=1", "B=2"], ["B=3", "C=4", "A=5"]), ["A=5", "B=3", "C=4"]);
});

Deno.test("mergeEnv() removes a key given without '=' and can set it again later", () => {
  assertEquals(mergeEnv(["A=1", "B=2"], ["A"]), ["B=2"]);
  assertEquals(mergeEnv(["A=1", "B=2"], ["A", "A=9"]), ["B=2", "A=9"]);
  assertEquals(mergeEnv(["A=1"], ["Z"]), ["A=1"]);
});

Deno.test("mergeEnv() keeps '=' inside values and empty values", () => {
  assertEquals(mergeEnv(["OPTS=a=b"], ["EMPTY="]), ["OPTS=a=b", "EMPTY="]);
});

Deno.test("checkEnvVar() refuses what runc would refuse", () => {
  assertEquals(checkEnvVar("K", "v=w", "f"), "K=v=w");
  assertFails(
    () => checkEnvVar("", "v", "container.envs[2]"),
    "invalid-argument",
    "container.envs[2].key: empty",
  );
  assertFails(
    () => checkEnvVar("A=B", "v", "f"),
    "invalid-argument",
    'f.key: environment variable name "A=B"',
  );
  assertFails(() => checkEnvVar("A", "x\0y", "f"), "invalid-argument", "NUL byte");
});
