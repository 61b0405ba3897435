/**
 * Attach over SPDY: several clients on one running "container" (a real local process).
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { startHarness } from "./testing/harness.ts";
import { SpdyRemoteCommand } from "./testing/spdy_client.ts";

const attach = (containerId: string, stdin = false) => ({
  containerId,
  tty: false,
  stdin,
  stdout: true,
  stderr: true,
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

Deno.test("attach over SPDY: two clients see output written after they attached", async () => {
  await using h = await startHarness();
  const c = h.backend.startContainer("echoer", [
    "sh",
    "-c",
    'while read l; do echo "echo: $l"; echo "warn: $l" >&2; done',
  ]);
  const a = await SpdyRemoteCommand.open(h.server.attachUrl(attach("echoer")), {});
  const b = await SpdyRemoteCommand.open(h.server.attachUrl(attach("echoer", true)), {
    stdin: true,
  });
  try {
    await until(() => c.attachers === 2);
    await c.write("first\n");
    await a.stdout!.waitFor("echo: first\n");
    await b.stdout!.waitFor("echo: first\n");
    await a.stderr!.waitFor("warn: first\n");
    // stdin from one attacher reaches the container; both see the answer.
    await b.write("second\n");
    await a.stdout!.waitFor("echo: second\n");
    await b.stdout!.waitFor("echo: second\n");
    assert(!a.stdout!.text.includes("warn"), "stderr stays on its own stream");
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("attach over SPDY: a client that detaches leaves the container and the others running", async () => {
  await using h = await startHarness();
  const c = h.backend.startContainer("echoer", [
    "sh",
    "-c",
    'while read l; do echo "echo: $l"; done',
  ]);
  const a = await SpdyRemoteCommand.open(h.server.attachUrl(attach("echoer")), { stderr: true });
  const b = await SpdyRemoteCommand.open(h.server.attachUrl(attach("echoer")), { stderr: true });
  try {
    await until(() => c.attachers === 2);
    a.close();
    await until(() => c.attachers === 1);
    assert(c.running);
    await c.write("after-detach\n");
    await b.stdout!.waitFor("echo: after-detach\n");
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("attach over SPDY: when the container exits the attach ends with Success", async () => {
  await using h = await startHarness();
  const c = h.backend.startContainer("short", ["sh", "-c", "read l; echo bye $l; exit 1"]);
  const a = await SpdyRemoteCommand.open(h.server.attachUrl(attach("short")), { stderr: true });
  try {
    await until(() => c.attachers === 1);
    await c.write("now\n");
    const r = await a.result();
    assertEquals(r.stdout, "bye now\n");
    // Attach reports no exit code: the kubelet library writes Success when it ends.
    assertEquals(r.status.json, { metadata: {}, status: "Success" });
  } finally {
    a.close();
  }
});

Deno.test("attach over SPDY: a container that is not running is an InternalError status", async () => {
  await using h = await startHarness();
  const a = await SpdyRemoteCommand.open(h.server.attachUrl(attach("ghost")), { stderr: true });
  try {
    const r = await a.result();
    assertEquals(r.status.json?.reason, "InternalError");
    assertStringIncludes(String(r.status.json?.message), "error attaching to container");
  } finally {
    a.close();
  }
});
