import { assert, assertEquals } from "../testing/assert.ts";
import { Logger } from "../log/mod.ts";
import { type HealthCheck, type NotifyEnv, SystemdNotifier, Watchdog } from "./notify.ts";

function fakeEnv(vars: Record<string, string>): NotifyEnv & { vars: Record<string, string> } {
  return {
    vars,
    get: (k) => vars[k],
    delete: (k) => {
      delete vars[k];
    },
  };
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "debug", sink: (l) => lines.push(l) }), lines };
}

function notifier(vars: Record<string, string>, pid = 4242) {
  const sent: Array<[string, string]> = [];
  const env = fakeEnv(vars);
  const { logger, lines } = capture();
  const n = SystemdNotifier.fromEnv({
    logger,
    env,
    pid,
    transport: (address, message) => sent.push([address, message]),
  });
  return { n, sent, env, lines };
}

Deno.test("fromEnv() reads systemd's variables and removes them from the environment", () => {
  const { n, env } = notifier({
    NOTIFY_SOCKET: "/run/systemd/notify",
    WATCHDOG_USEC: "60000000",
    WATCHDOG_PID: "4242",
    PATH: "/usr/bin",
  });
  assertEquals(n.socket, "/run/systemd/notify");
  assertEquals(n.watchdogIntervalMs, 30_000);
  assertEquals(env.vars, { PATH: "/usr/bin" });
});

Deno.test("fromEnv() accepts an abstract socket name", () => {
  const { n } = notifier({ NOTIFY_SOCKET: "@/org/freedesktop/systemd1/notify/123" });
  assertEquals(n.socket, "@/org/freedesktop/systemd1/notify/123");
  assert(n.enabled);
});

Deno.test("without NOTIFY_SOCKET every notification is a no-op", () => {
  const { n, sent } = notifier({ WATCHDOG_USEC: "1000000" });
  assert(!n.enabled);
  assertEquals(n.watchdogIntervalMs, undefined);
  n.ready("up");
  n.stopping("down");
  assertEquals(n.watchdog(), false);
  assertEquals(sent, []);
});

Deno.test("fromEnv() ignores a relative NOTIFY_SOCKET, with a warning", () => {
  const { n, lines, env } = notifier({ NOTIFY_SOCKET: "notify.sock" });
  assert(!n.enabled);
  assert(lines.some((l) => l.includes("ignoring NOTIFY_SOCKET")));
  assertEquals(env.vars, {});
});

Deno.test("the watchdog stays off when WATCHDOG_PID names another process", () => {
  const { n } = notifier({
    NOTIFY_SOCKET: "/run/n",
    WATCHDOG_USEC: "2000000",
    WATCHDOG_PID: "1",
  });
  assertEquals(n.watchdogIntervalMs, undefined);
  assertEquals(n.startWatchdog(() => Promise.resolve()), undefined);
});

Deno.test("the watchdog stays off when WATCHDOG_USEC is not a positive integer", () => {
  for (const usec of ["0", "-5", "1e6", "soon", ""]) {
    const { n, lines } = notifier({ NOTIFY_SOCKET: "/run/n", WATCHDOG_USEC: usec });
    assertEquals(n.watchdogIntervalMs, undefined, usec);
    assert(lines.some((l) => l.includes("ignoring WATCHDOG_USEC")), usec);
  }
});

Deno.test("ready() sends READY=1 with the status and the main pid", () => {
  const { n, sent } = notifier({ NOTIFY_SOCKET: "/run/n" }, 77);
  n.ready("serving the CRI\non /run/s.sock");
  assertEquals(sent, [["/run/n", "READY=1\nSTATUS=serving the CRI on /run/s.sock\nMAINPID=77\n"]]);
});

Deno.test("stopping() sends STOPPING=1 and watchdog() sends WATCHDOG=1", () => {
  const { n, sent } = notifier({ NOTIFY_SOCKET: "/run/n" });
  n.stopping("bye");
  assert(n.watchdog());
  assertEquals(sent.map(([, m]) => m), ["STOPPING=1\nSTATUS=bye\n", "WATCHDOG=1\n"]);
});

Deno.test("a failing transport is logged and never thrown", () => {
  const { logger, lines } = capture();
  const n = SystemdNotifier.fromEnv({
    logger,
    env: fakeEnv({ NOTIFY_SOCKET: "/run/gone" }),
    transport: () => {
      throw new Error("sendto(/run/gone): No such file or directory (ENOENT)");
    },
  });
  n.ready("up");
  assertEquals(n.watchdog(), false);
  assert(lines.some((l) => l.includes("cannot notify systemd (READY=1)") && l.includes("ENOENT")));
});

function dog(check: HealthCheck, intervalMs = 1000) {
  let pings = 0;
  const { logger, lines } = capture();
  const w = new Watchdog({
    notifier: {
      watchdog: () => {
        pings++;
        return true;
      },
    },
    intervalMs,
    check,
    logger,
  });
  return { w, lines, pings: () => pings };
}

Deno.test("Watchdog.tick() feeds the watchdog only after the health check passes", async () => {
  const budgets: number[] = [];
  const { w, pings } = dog((budget) => {
    budgets.push(budget);
    return Promise.resolve();
  }, 30_000);
  assertEquals(await w.tick(), true);
  assertEquals(pings(), 1);
  assertEquals(budgets, [15_000]);
});

Deno.test("Watchdog.tick() skips the keep-alive when the agent does not answer", async () => {
  let healthy = false;
  const { w, pings, lines } = dog(() =>
    healthy ? Promise.resolve() : Promise.reject(new Error("did not answer Version in 500 ms"))
  );
  assertEquals(await w.tick(), false);
  assertEquals(await w.tick(), false);
  assertEquals(pings(), 0);
  assert(lines.some((l) => l.includes("health check failed") && l.includes("failures=2")));
  healthy = true;
  assertEquals(await w.tick(), true);
  assertEquals(pings(), 1);
  assert(lines.some((l) => l.includes("health check passes again")));
});

Deno.test("Watchdog.stop() waits for a round in flight and no keep-alive follows it", async () => {
  const gate = Promise.withResolvers<void>();
  const { w, pings } = dog(() => gate.promise);
  const round = w.tick();
  const stopped = w.stop();
  gate.resolve();
  await stopped;
  assertEquals(await round, false);
  assertEquals(pings(), 0);
});

Deno.test("concurrent ticks share one health check", async () => {
  let checks = 0;
  const gate = Promise.withResolvers<void>();
  const { w, pings } = dog(() => {
    checks++;
    return gate.promise;
  });
  const a = w.tick();
  const b = w.tick();
  gate.resolve();
  assertEquals(await a, true);
  assertEquals(await b, true);
  assertEquals(checks, 1);
  assertEquals(pings(), 1);
});
