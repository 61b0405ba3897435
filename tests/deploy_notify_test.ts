/**
 * The agent under `Type=notify`, end to end: a real agent started the way systemd starts
 * it (`NOTIFY_SOCKET`, `WATCHDOG_USEC` in its environment) reports to a datagram socket
 * this test listens on — READY=1 once the CRI socket answers, WATCHDOG=1 keep-alives, and
 * STOPPING=1 on SIGTERM, in that order.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { NotifyListener } from "../deploy/testing/notify_listener.ts";
import { CriClient } from "./harness/cri_client.ts";
import { TestAgent } from "./harness/agent.ts";

Deno.test("deploy: READY=1, WATCHDOG=1 and STOPPING=1 reach systemd's socket in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-notify-e2e-" });
  try {
    await using listener = await NotifyListener.start(`${dir}/notify.sock`);
    await using agent = await TestAgent.start({
      logLevel: "info",
      // WatchdogSec=2s: a health-checked keep-alive every second.
      env: { NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: "2000000" },
    });

    const ready = await listener.waitFor((r) => r.fields.READY === "1");
    assertEquals(ready.seq, listener.received[0]!.seq, "READY=1 comes first");
    assertEquals(ready.fields.MAINPID, String(agent.pid));
    assertStringIncludes(ready.fields.STATUS ?? "", agent.socket);
    // READY=1 promised that calls are accepted: one must succeed now.
    const client = new CriClient(agent.socket);
    try {
      assertEquals((await client.runtime.version({})).runtimeName, "sauropod");
    } finally {
      client.close();
    }

    // Two keep-alives: each one followed a Version call the agent made to itself.
    await listener.waitFor((r) => r.fields.WATCHDOG === "1" && r.seq > ready.seq);
    const first = listener.received.findLast((r) => r.fields.WATCHDOG === "1")!;
    await listener.waitFor((r) => r.fields.WATCHDOG === "1" && r.seq > first.seq);

    const status = await agent.stop("SIGTERM");
    assertEquals(status.code, 0);
    const stopping = await listener.waitFor((r) => r.fields.STOPPING === "1");

    const kinds = listener.received.map((r) =>
      r.fields.READY
        ? "READY"
        : r.fields.WATCHDOG
        ? "WATCHDOG"
        : r.fields.STOPPING
        ? "STOPPING"
        : r.text
    );
    assertEquals(kinds[0], "READY");
    assertEquals(kinds.at(-1), "STOPPING", `STOPPING=1 is the last word: ${kinds.join(", ")}`);
    assert(kinds.slice(1, -1).every((k) => k === "WATCHDOG"), kinds.join(", "));
    assert(kinds.filter((k) => k === "WATCHDOG").length >= 2, kinds.join(", "));
    assertEquals(stopping.seq, listener.received.at(-1)!.seq);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deploy: without NOTIFY_SOCKET the agent runs and notifies nobody", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-notify-e2e-" });
  try {
    await using listener = await NotifyListener.start(`${dir}/notify.sock`);
    await using agent = await TestAgent.start({
      logLevel: "info",
      env: { WATCHDOG_USEC: "2000000" },
    });
    const client = new CriClient(agent.socket);
    try {
      assertEquals((await client.runtime.version({})).runtimeName, "sauropod");
    } finally {
      client.close();
    }
    assertEquals((await agent.stop("SIGTERM")).code, 0);
    assertEquals(listener.received, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
