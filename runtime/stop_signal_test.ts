import { assertEquals, assertThrows } from "../testing/assert.ts";
import { Signal } from "../api/gen/api.ts";
import { SauropodError } from "../errors/mod.ts";
import { signalNumber } from "../lib/signals.ts";
import { criSignal, resolveStopSignal } from "./stop_signal.ts";

/** The Linux number of each CRI Signal (research notes §7; RT signals are the enum less one). */
const LINUX: Record<string, number> = {
  SIGABRT: 6,
  SIGALRM: 14,
  SIGBUS: 7,
  SIGCHLD: 17,
  SIGCLD: 17,
  SIGCONT: 18,
  SIGFPE: 8,
  SIGHUP: 1,
  SIGILL: 4,
  SIGINT: 2,
  SIGIO: 29,
  SIGIOT: 6,
  SIGKILL: 9,
  SIGPIPE: 13,
  SIGPOLL: 29,
  SIGPROF: 27,
  SIGPWR: 30,
  SIGQUIT: 3,
  SIGSEGV: 11,
  SIGSTKFLT: 16,
  SIGSTOP: 19,
  SIGSYS: 31,
  SIGTERM: 15,
  SIGTRAP: 5,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGVTALRM: 26,
  SIGWINCH: 28,
  SIGXCPU: 24,
  SIGXFSZ: 25,
};

Deno.test("every CRI Signal value resolves to its Linux signal and reports as itself", () => {
  let seen = 0;
  for (const [key, value] of Object.entries(Signal)) {
    if (typeof value !== "number" || value <= 0) continue;
    const name = resolveStopSignal(value, "", "img");
    const bare = key.replace(/^SIGNAL_/, "");
    const want = value >= Signal.SIGNAL_SIGRTMIN ? value - 1 : LINUX[bare];
    assertEquals(signalNumber(name), want, `${key} → ${name}`);
    assertEquals(criSignal(name), value, `${key} → ${name} reported back`);
    seen++;
  }
  assertEquals(seen, 65);
});

Deno.test("the image's STOPSIGNAL by name or number is used when the config sets none", () => {
  const none = Signal.SIGNAL_RUNTIME_DEFAULT;
  assertEquals(resolveStopSignal(none, "SIGRTMIN+3", "img"), "SIGRTMIN+3");
  assertEquals(resolveStopSignal(none, "37", "img"), "SIGRTMIN+3");
  assertEquals(criSignal("SIGRTMIN+3"), Signal.SIGNAL_SIGRTMINPLUS3);
  assertEquals(resolveStopSignal(none, "9", "img"), "SIGKILL");
  assertEquals(resolveStopSignal(none, "sigusr1", "img"), "SIGUSR1");
  assertEquals(resolveStopSignal(none, "", "img"), "SIGTERM");
  assertEquals(criSignal("SIGTERM"), Signal.SIGNAL_SIGTERM);
  // The config wins over the image.
  assertEquals(resolveStopSignal(Signal.SIGNAL_SIGQUIT, "SIGUSR1", "img"), "SIGQUIT");
  assertEquals(resolveStopSignal(Signal.SIGNAL_SIGQUIT, "SIGBOGUS", "img"), "SIGQUIT");
});

Deno.test("a stop signal that names no signal is refused naming the field, never SIGTERM", () => {
  const none = Signal.SIGNAL_RUNTIME_DEFAULT;
  for (const bad of ["SIGBOGUS", "0", "65", "32", "SIGRTMIN+40"]) {
    const err = assertThrows(() => resolveStopSignal(none, bad, "img"), SauropodError);
    assertEquals(err.kind, "invalid-argument");
    assertEquals(err.message.startsWith("config.image: the STOPSIGNAL"), true, err.message);
  }
  for (const bad of [99, -1 as Signal]) {
    const err = assertThrows(() => resolveStopSignal(bad, "", "img"), SauropodError);
    assertEquals(err.message.startsWith("config.stop_signal: "), true, err.message);
  }
});
