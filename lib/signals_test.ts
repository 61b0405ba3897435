import { assertEquals } from "../testing/assert.ts";
import { canonicalSignal, signalName, signalNumber } from "./signals.ts";

Deno.test("signalNumber() reads names with and without SIG, numbers and real-time signals", () => {
  assertEquals(signalNumber("SIGTERM"), 15);
  assertEquals(signalNumber("quit"), 3);
  assertEquals(signalNumber("9"), 9);
  assertEquals(signalNumber("SIGRTMIN+3"), 37);
  assertEquals(signalNumber("RTMAX"), 64);
  assertEquals(signalNumber("SIGRTMAX-1"), 63);
  assertEquals(signalNumber("SIGRTMIN+30"), 64);
  assertEquals(signalNumber("SIGRTMINPLUS3"), 37);
  assertEquals(signalNumber("SIGRTMAXMINUS14"), 50);
  assertEquals(signalNumber("SIGCLD"), 17);
  assertEquals(signalNumber("SIGPOLL"), 29);
  assertEquals(signalNumber("SIGIOT"), 6);
});

Deno.test("signalNumber() refuses what names no signal", () => {
  for (
    const s of [
      "SIGNOPE",
      "0",
      "65",
      "32",
      "33",
      "-9",
      "SIGRTMIN+31",
      "SIGRTMAX-31",
      "SIGRTMIN-1",
      "constructor",
      "toString",
      "",
    ]
  ) {
    assertEquals(signalNumber(s), undefined, s);
  }
});

Deno.test("signalName() and signalNumber() agree on every signal 1-31 and 34-64", () => {
  for (let n = 1; n <= 64; n++) {
    const name = signalName(n);
    if (n === 32 || n === 33) {
      assertEquals(name, undefined);
      continue;
    }
    assertEquals(signalNumber(name!), n, name);
  }
  assertEquals([signalName(6), signalName(17), signalName(29)], ["SIGABRT", "SIGCHLD", "SIGIO"]);
  assertEquals([signalName(34), signalName(49), signalName(50), signalName(64)], [
    "SIGRTMIN",
    "SIGRTMIN+15",
    "SIGRTMAX-14",
    "SIGRTMAX",
  ]);
});

Deno.test("canonicalSignal() spells numbers by name and keeps aliases", () => {
  assertEquals(canonicalSignal("37"), "SIGRTMIN+3");
  assertEquals(canonicalSignal("15"), "SIGTERM");
  assertEquals(canonicalSignal("rtmin+3"), "SIGRTMIN+3");
  assertEquals(canonicalSignal("SIGRTMAXMINUS1"), "SIGRTMAX-1");
  assertEquals(canonicalSignal("iot"), "SIGIOT");
  assertEquals(canonicalSignal("SIGCLD"), "SIGCLD");
  assertEquals(canonicalSignal("SIGFOO"), undefined);
});
