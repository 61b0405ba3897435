import { assertEquals } from "../testing/assert.ts";
import { decodeWaitStatus, exitCodeOf } from "./process.ts";

Deno.test("decodeWaitStatus() reads a normal exit code", () => {
  assertEquals(decodeWaitStatus(0), { kind: "exited", code: 0 });
  assertEquals(decodeWaitStatus(3 << 8), { kind: "exited", code: 3 });
  assertEquals(decodeWaitStatus(255 << 8), { kind: "exited", code: 255 });
});

Deno.test("decodeWaitStatus() reads a terminating signal and the core-dump bit", () => {
  assertEquals(decodeWaitStatus(9), { kind: "signaled", signal: 9, coreDumped: false });
  assertEquals(decodeWaitStatus(0x80 | 6), { kind: "signaled", signal: 6, coreDumped: true });
});

Deno.test("exitCodeOf() is the code, or 128 + the signal", () => {
  assertEquals(exitCodeOf({ kind: "exited", code: 3 }), 3);
  assertEquals(exitCodeOf({ kind: "signaled", signal: 9, coreDumped: false }), 137);
  assertEquals(exitCodeOf({ kind: "signaled", signal: 15, coreDumped: false }), 143);
});
