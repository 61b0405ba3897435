/**
 * The notifier over real unix datagrams (ffi/notify.ts) to a listener on Deno's own
 * datagram socket, standing in for systemd.
 */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { NotifyListener } from "../deploy/testing/notify_listener.ts";
import { Logger } from "../log/mod.ts";
import { sendDatagram } from "../ffi/notify.ts";
import { SyscallError } from "../ffi/mod.ts";
import { SystemdNotifier } from "./notify.ts";

const enc = (s: string) => new TextEncoder().encode(s);

// libc stays loaded for the process; load it (and errno's helpers) before the tests so the
// resource sanitizer does not blame the first test.
try {
  sendDatagram("/nonexistent/sauropod-warm-up.sock", enc(""));
} catch {
  // expected: nobody listens there
}

Deno.test("sendDatagram() delivers each message as one datagram, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-notify-" });
  try {
    await using listener = await NotifyListener.start(`${dir}/notify.sock`);
    sendDatagram(listener.path, enc("READY=1\nSTATUS=up\n"));
    sendDatagram(listener.path, enc("WATCHDOG=1\n"));
    await listener.waitFor((r) => r.text === "WATCHDOG=1\n");
    assertEquals(listener.received.map((r) => r.text), ["READY=1\nSTATUS=up\n", "WATCHDOG=1\n"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sendDatagram() names the address when nobody listens there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-notify-" });
  try {
    const err = assertThrows(
      () => sendDatagram(`${dir}/absent.sock`, enc("READY=1\n")),
      SyscallError,
      `${dir}/absent.sock`,
    );
    assertEquals(err.syscall, "sendto");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SystemdNotifier from systemd's environment reaches the socket: READY, WATCHDOG, STOPPING", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-notify-" });
  try {
    await using listener = await NotifyListener.start(`${dir}/notify.sock`);
    const vars: Record<string, string> = {
      NOTIFY_SOCKET: listener.path,
      WATCHDOG_USEC: "4000000",
      WATCHDOG_PID: String(Deno.pid),
    };
    const lines: string[] = [];
    const n = SystemdNotifier.fromEnv({
      logger: new Logger({ sink: (l) => lines.push(l) }),
      env: { get: (k) => vars[k], delete: (k) => delete vars[k] },
    });
    assertEquals(n.watchdogIntervalMs, 2000);
    n.ready("serving");
    assert(n.watchdog());
    n.stopping("bye");
    await listener.waitFor((r) => r.fields.STOPPING === "1");
    assertEquals(listener.received.map((r) => Object.keys(r.fields)[0]), [
      "READY",
      "WATCHDOG",
      "STOPPING",
    ]);
    assertEquals(listener.received[0]!.fields.MAINPID, String(Deno.pid));
    assertEquals(lines, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
