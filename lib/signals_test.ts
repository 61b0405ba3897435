import { assertEquals } from "../testing/assert.ts";
import { signalNumber } from "./signals.ts";

Deno.test("signalNumber() reads names with and without SIG, numbers and real-time signals", () => {
  assertEquals(signalNumber("SIGTERM"), 15);
  assertEquals(signalNumber("quit"), 3);
  assertEquals(signalNumber("9"), 9);
  assertEquals(signalNumber("SIGRTMIN+3"), 37);
  assertEquals(signalNumber("RTMAX"), 64);
  assertEquals(signalNumber("SIGNOPE"), undefined);
  assertEquals(signalNumber("0"), undefined);
});
