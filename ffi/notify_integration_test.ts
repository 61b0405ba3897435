import { assertEquals, assertThrows } from "../testing/assert.ts";
import { NotifyListener } from "../deploy/testing/notify_listener.ts";
import { sendDatagram, unixSockaddr } from "./notify.ts";
import { SyscallError } from "./_libc.ts";

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

Deno.test("unixSockaddr() encodes an abstract name with a leading NUL and no terminator", () => {
  const { addr, len } = unixSockaddr("@sauropod/test");
  assertEquals([addr[0], addr[1]], [1, 0]); // AF_UNIX, little endian
  assertEquals(addr[2], 0);
  assertEquals(new TextDecoder().decode(addr.subarray(3, 3 + 13)), "sauropod/test");
  assertEquals(len, 2 + 1 + 13);
  assertEquals(unixSockaddr("/run/n").len, 2 + 6 + 1);
});

Deno.test("unixSockaddr() refuses relative and over-long addresses", () => {
  assertThrows(() => unixSockaddr("run/notify"), RangeError, "absolute path or @abstract");
  assertThrows(() => unixSockaddr(`/${"x".repeat(107)}`), RangeError, "the limit is 107");
});
