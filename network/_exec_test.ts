// test-permissions: --allow-run=cat,sh,/nonexistent/sauropod-plugin
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { runProcess, tailText } from "./_exec.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("runProcess() feeds stdin and collects stdout", async () => {
  const out = await runProcess("cat", {
    stdin: enc.encode('{"cniVersion":"1.0.0"}'),
    timeoutMs: 30_000,
    what: "cat",
  });
  assertEquals(out.code, 0);
  assertEquals(dec.decode(out.stdout), '{"cniVersion":"1.0.0"}');
});

Deno.test("runProcess() returns a failing exit code with stderr instead of throwing", async () => {
  const out = await runProcess("sh", {
    args: ["-c", 'echo "$GREETING" >&2; exit 3'],
    env: { GREETING: "no such network" },
    timeoutMs: 30_000,
    what: "sh",
  });
  assertEquals(out.code, 3);
  assertEquals(tailText(out.stderr), "no such network");
});

Deno.test("runProcess() keeps at most maxOutputBytes of a stream", async () => {
  const out = await runProcess("cat", {
    stdin: new Uint8Array(100_000).fill(65),
    timeoutMs: 30_000,
    what: "cat",
    maxOutputBytes: 1000,
  });
  assertEquals(out.stdout.length, 1000);
});

Deno.test("runProcess() kills a helper that outlives its deadline", async () => {
  const err = await assertRejects(
    () => runProcess("sh", { args: ["-c", "sleep 30 & wait"], timeoutMs: 50, what: "the sleeper" }),
    SauropodError,
    "the sleeper did not finish within 50ms and was killed",
  );
  assertEquals(err.kind, "deadline-exceeded");
});

Deno.test("runProcess() stops when the caller cancels", async () => {
  const ac = new AbortController();
  const run = runProcess("sh", {
    args: ["-c", "sleep 30"],
    timeoutMs: 30_000,
    signal: ac.signal,
    what: "sh",
  });
  ac.abort();
  const err = await assertRejects(() => run, SauropodError, "canceled");
  assertEquals(err.kind, "canceled");
  const again = await assertRejects(
    () => runProcess("sh", { args: ["-c", "true"], timeoutMs: 1000, signal: ac.signal, what: "x" }),
    SauropodError,
  );
  assertEquals(again.kind, "canceled");
});

Deno.test("runProcess() reports a missing program as not-found", async () => {
  const err = await assertRejects(
    () => runProcess("/nonexistent/sauropod-plugin", { timeoutMs: 30_000, what: "the plugin" }),
    SauropodError,
    "the plugin: cannot start /nonexistent/sauropod-plugin",
  );
  assertEquals(err.kind, "not-found");
});

Deno.test("tailText() keeps the end of long output", () => {
  assertEquals(tailText(enc.encode("  short \n")), "short");
  assertEquals(tailText(enc.encode("abcdef"), 3), "…def");
});
