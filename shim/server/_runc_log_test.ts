import { assertEquals } from "../../testing/assert.ts";
import { kindOfRuncMessage } from "./_runc.ts";
import { lastRuncError, lastStderrLine } from "./_runc_log.ts";

Deno.test("lastRuncError() takes the last error of runc's JSON log, not the opaque pipe message", () => {
  const log = [
    '{"level":"warning","msg":"something minor","time":"2026-01-01T00:00:00Z"}',
    '{"level":"error","msg":"nsexec: failed to write oom_score_adj: permission denied","time":"t"}',
    '{"level":"error","msg":"runc create failed: unable to start container process: exec: \\"x\\": executable file not found in $PATH","time":"t"}',
    "not json at all",
    "",
  ].join("\n");
  assertEquals(
    lastRuncError(log),
    'runc create failed: unable to start container process: exec: "x": executable file not found in $PATH',
  );
  assertEquals(lastRuncError('{"level":"info","msg":"fine"}\n'), undefined);
});

Deno.test("lastStderrLine() reads logrus text and plain lines", () => {
  assertEquals(
    lastStderrLine('time="2026" level=error msg="container \\"x\\" does not exist"\n'),
    'container "x" does not exist',
  );
  assertEquals(lastStderrLine("ERRO[0000] container not running\n\n"), "container not running");
  assertEquals(lastStderrLine(""), undefined);
});

Deno.test("kindOfRuncMessage() maps runc's words for missing and stopped containers", () => {
  assertEquals(kindOfRuncMessage('container "x" does not exist'), "not-found");
  assertEquals(kindOfRuncMessage("container not running"), "failed-precondition");
  assertEquals(
    kindOfRuncMessage("cannot start a container that has stopped"),
    "failed-precondition",
  );
  assertEquals(kindOfRuncMessage("unable to apply cgroup configuration"), "internal");
});
