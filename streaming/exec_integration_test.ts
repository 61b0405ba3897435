/**
 * Exec over SPDY against the real server, with real local processes behind it, driven by
 * a client that speaks the protocol as client-go does.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { preloadFfi, startHarness } from "./testing/harness.ts";
import { spdyExec, SpdyRemoteCommand } from "./testing/spdy_client.ts";

preloadFfi();

const exec = (cmd: string[], extra: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}) => ({
  containerId: "c1",
  cmd,
  tty: extra.tty ?? false,
  stdin: extra.stdin ?? false,
  stdout: true,
  stderr: extra.stderr ?? !(extra.tty ?? false),
});

Deno.test("exec over SPDY: `sh -c 'exit 3'` reports exit code 3 in a v4 status", async () => {
  await using h = await startHarness();
  const r = await spdyExec(h.server.execUrl(exec(["sh", "-c", "exit 3"])));
  assertEquals(r.protocol, "v5.channel.k8s.io");
  assertEquals(r.status.exitCode, 3);
  assertEquals(r.status.json?.reason, "NonZeroExitCode");
  assertEquals(r.status.json?.details, { causes: [{ reason: "ExitCode", message: "3" }] });
});

Deno.test("exec over SPDY: success is a Success status, stdout and stderr stay apart", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(exec(["sh", "-c", "echo out; echo err >&2; echo more"]));
  const r = await spdyExec(url);
  assertEquals(r.stdout, "out\nmore\n");
  assertEquals(r.stderr, "err\n");
  assertEquals(r.status.exitCode, 0);
  assertEquals(r.status.json, { metadata: {}, status: "Success" });
});

Deno.test("exec over SPDY: stdin round-trips and its end reaches the process", async () => {
  await using h = await startHarness();
  const input = "line one\nline two\n" + "x".repeat(200_000) + "\n";
  const r = await spdyExec(
    h.server.execUrl(exec(["sh", "-c", "cat; echo done"], { stdin: true })),
    {
      input,
    },
  );
  assertEquals(r.stdout, input + "done\n");
  assertEquals(r.status.exitCode, 0);
});

Deno.test("exec over SPDY: an older client (v2) gets failures as text and nothing on success", async () => {
  await using h = await startHarness();
  const v2 = ["v2.channel.k8s.io", "channel.k8s.io"];
  const ok = await spdyExec(h.server.execUrl(exec(["true"])), { protocols: v2 });
  assertEquals(ok.protocol, "v2.channel.k8s.io");
  assertEquals(ok.status.raw, "");
  const bad = await spdyExec(h.server.execUrl(exec(["sh", "-c", "exit 7"])), { protocols: v2 });
  assertStringIncludes(bad.status.raw, "exit code 7");
});

Deno.test("exec over SPDY: the client's protocol preference wins (v4 over v5)", async () => {
  await using h = await startHarness();
  const r = await spdyExec(h.server.execUrl(exec(["true"])), {
    protocols: ["v4.channel.k8s.io", "v5.channel.k8s.io"],
  });
  assertEquals(r.protocol, "v4.channel.k8s.io");
});

Deno.test("exec over SPDY: a container that is not running is an InternalError status", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl({ ...exec(["true"]), containerId: "missing" });
  const r = await spdyExec(url);
  assertEquals(r.status.json?.reason, "InternalError");
  assertStringIncludes(String(r.status.json?.message), 'container "missing" not found');
  assertEquals(r.status.exitCode, undefined);
});

Deno.test("exec over SPDY with a tty: typing is echoed and `stty size` follows a resize", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(exec(["sh"], { tty: true, stdin: true }));
  const cmd = await SpdyRemoteCommand.open(url, { tty: true, stdin: true });
  try {
    await cmd.resize(100, 30);
    await cmd.write("stty size\n");
    await cmd.stdout!.waitFor(/30 100/);
    await cmd.resize(132, 43);
    await cmd.write("echo typed-$((6*7)); stty size\n");
    // The pty echoes what was typed, then the shell's output.
    await cmd.stdout!.waitFor("echo typed-$((6*7)); stty size");
    await cmd.stdout!.waitFor(/typed-42\r\n43 132/);
    await cmd.write("exit 5\n");
    const status = await cmd.status();
    assertEquals(status.exitCode, 5);
    assert(cmd.stderr === undefined, "a tty has no separate stderr");
    assertEquals(h.backend.resizes, [{ width: 100, height: 30 }, { width: 132, height: 43 }]);
  } finally {
    cmd.close();
  }
});

Deno.test("exec over SPDY with a tty: closing stdin sends ^D and the shell exits", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(exec(["sh"], { tty: true, stdin: true }));
  const cmd = await SpdyRemoteCommand.open(url, { tty: true, stdin: true });
  try {
    await cmd.write("echo hi\n");
    await cmd.stdout!.waitFor("hi\r\n");
    await cmd.closeStdin();
    assertEquals((await cmd.status()).exitCode, 0);
  } finally {
    cmd.close();
  }
});

Deno.test("exec over SPDY: a client killed mid-stream gets its process ended, others go on", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(exec(["sh", "-c", "echo started; exec sleep 600"], { stdin: true }));
  const victim = await SpdyRemoteCommand.open(url, { stdin: true });
  await victim.stdout!.waitFor("started");
  assertEquals(h.backend.liveProcesses, 2); // the container and the exec
  victim.close();
  // stdin EOF does not stop `sleep`: after the grace period the session kills it.
  while (h.backend.liveProcesses > 1) await new Promise((r) => setTimeout(r, 50));
  const r = await spdyExec(h.server.execUrl(exec(["echo", "still serving"])));
  assertEquals(r.stdout, "still serving\n");
  assertMatch(h.logs.join("\n"), /client left during exec/);
});

Deno.test("exec over SPDY: a command that exits on stdin EOF ends promptly after a vanish", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(exec(["cat"], { stdin: true }));
  const victim = await SpdyRemoteCommand.open(url, { stdin: true });
  await victim.write("ping\n");
  await victim.stdout!.waitFor("ping");
  victim.close();
  while (h.backend.liveProcesses > 1) await new Promise((r) => setTimeout(r, 20));
});
