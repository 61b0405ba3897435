/**
 * Telling systemd how the agent is doing (`sd_notify(3)`, `Type=notify` units): READY=1
 * once the CRI socket accepts calls, STOPPING=1 when a stop signal arrives, and WATCHDOG=1
 * keep-alives while `WatchdogSec=` is set.
 *
 * The environment systemd passes (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`) is
 * read once and removed, as `sd_notify(unset_environment=1)` does: shims and the programs
 * they start must not inherit it (with `NotifyAccess=all` their messages would count as the
 * agent's, and a shim could keep a hung agent's watchdog fed).
 *
 * A keep-alive proves liveness, not just a ticking timer: each one is sent only after a
 * health check (a real CRI call over the agent's own socket, see `health.ts`) answered in
 * time, so an agent whose server is wedged stops feeding the watchdog and systemd restarts
 * it. With `KillMode=process` that restart leaves shims and containers running. This is
 * CRI-O's design (`internal/watchdog`: health checkers gate every notification).
 *
 * @module
 */
import { messageOf } from "../errors/mod.ts";
import { sendDatagram } from "../ffi/notify.ts";
import type { Logger } from "../log/mod.ts";

/** The part of `Deno.env` the notifier uses (a fake in unit tests). */
export interface NotifyEnv {
  get(key: string): string | undefined;
  delete(key: string): void;
}

/** Delivers one notification message to the socket at `address`. */
export type NotifyTransport = (address: string, message: string) => void;

/** How a {@link SystemdNotifier} is made. */
export interface NotifierOptions {
  logger: Logger;
  /** Defaults to `Deno.env`. */
  env?: NotifyEnv;
  /** This process's pid (`WATCHDOG_PID` must name it). Defaults to `Deno.pid`. */
  pid?: number;
  /** Defaults to one unix datagram per message (`ffi/notify.ts`). */
  transport?: NotifyTransport;
}

/** The variables systemd sets for a notify service; all are removed once read. */
export const NOTIFY_ENV_KEYS = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] as const;

const encoder = new TextEncoder();
const datagram: NotifyTransport = (address, message) =>
  sendDatagram(address, encoder.encode(message));

/**
 * The agent's channel to systemd. Without `NOTIFY_SOCKET` (not started by systemd, or a
 * unit that is not `Type=notify`) every method is a no-op.
 */
export class SystemdNotifier {
  /** The notification socket: an absolute path or `@abstract`; undefined when none. */
  readonly socket: string | undefined;
  /**
   * How often systemd wants a keep-alive, in ms (half of `WatchdogSec=`, as sd_watchdog_enabled
   * advises); undefined when the watchdog is off or meant for another process.
   */
  readonly watchdogIntervalMs: number | undefined;
  readonly #pid: number;
  readonly #log: Logger;
  readonly #transport: NotifyTransport;

  private constructor(
    socket: string | undefined,
    watchdogIntervalMs: number | undefined,
    opts: NotifierOptions,
  ) {
    this.socket = socket;
    this.watchdogIntervalMs = watchdogIntervalMs;
    this.#pid = opts.pid ?? Deno.pid;
    this.#log = opts.logger;
    this.#transport = opts.transport ?? datagram;
  }

  /**
   * Reads systemd's variables and removes them from the environment. Call it before the
   * agent starts any child process.
   */
  static fromEnv(opts: NotifierOptions): SystemdNotifier {
    const env = opts.env ?? Deno.env;
    const pid = opts.pid ?? Deno.pid;
    const [socket, usec, watchdogPid] = NOTIFY_ENV_KEYS.map((k) => env.get(k));
    for (const k of NOTIFY_ENV_KEYS) env.delete(k);

    let address: string | undefined;
    if (socket !== undefined && socket !== "") {
      if (socket.startsWith("/") || socket.startsWith("@")) address = socket;
      else {
        opts.logger.warn("ignoring NOTIFY_SOCKET: not an absolute path or @abstract name", {
          notifySocket: socket,
        });
      }
    }
    let intervalMs: number | undefined;
    if (address !== undefined && usec !== undefined) {
      const n = /^\d+$/.test(usec) ? Number(usec) : NaN;
      if (!Number.isSafeInteger(n) || n <= 0) {
        opts.logger.warn("ignoring WATCHDOG_USEC: not a positive integer", { watchdogUsec: usec });
      } else if (watchdogPid !== undefined && watchdogPid !== String(pid)) {
        // sd_watchdog_enabled: the watchdog belongs to the process WATCHDOG_PID names.
        opts.logger.debug("systemd watchdog is meant for another process", { watchdogPid });
      } else {
        intervalMs = Math.max(1, Math.floor(n / 2000));
      }
    }
    return new SystemdNotifier(address, intervalMs, opts);
  }

  /** True when systemd listens for notifications. */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** READY=1: the service is up. `status` is what `systemctl status` shows. */
  ready(status: string): void {
    this.#send(["READY=1", `STATUS=${oneLine(status)}`, `MAINPID=${this.#pid}`], "READY=1");
  }

  /** STOPPING=1: shutdown has begun. */
  stopping(status: string): void {
    this.#send(["STOPPING=1", `STATUS=${oneLine(status)}`], "STOPPING=1");
  }

  /** STATUS=…: a free-form status line. */
  status(status: string): void {
    this.#send([`STATUS=${oneLine(status)}`], "STATUS");
  }

  /** WATCHDOG=1: one keep-alive. Returns whether it was delivered. */
  watchdog(): boolean {
    return this.#send(["WATCHDOG=1"], "WATCHDOG=1");
  }

  /**
   * Starts sending keep-alives every {@link watchdogIntervalMs}, each gated by `check`
   * (which gets a time budget in ms and throws when the agent is not healthy). Undefined
   * when the watchdog is off.
   */
  startWatchdog(check: HealthCheck): Watchdog | undefined {
    if (this.watchdogIntervalMs === undefined) return undefined;
    const dog = new Watchdog({
      notifier: this,
      intervalMs: this.watchdogIntervalMs,
      check,
      logger: this.#log,
    });
    dog.start();
    return dog;
  }

  #send(lines: string[], what: string): boolean {
    if (this.socket === undefined) return false;
    try {
      this.#transport(this.socket, lines.join("\n") + "\n");
      return true;
    } catch (err) {
      // Best effort: losing systemd's socket must not take the agent down with it.
      this.#log.warn(`cannot notify systemd (${what})`, {
        notifySocket: this.socket,
        err: messageOf(err),
      });
      return false;
    }
  }
}

/** Throws when the agent is unhealthy; must settle within `budgetMs`. */
export type HealthCheck = (budgetMs: number) => Promise<void>;

/** How a {@link Watchdog} is made. */
export interface WatchdogOptions {
  notifier: Pick<SystemdNotifier, "watchdog">;
  intervalMs: number;
  check: HealthCheck;
  logger: Logger;
}

/**
 * Feeds systemd's watchdog at a fixed rate while the health check passes. A check gets
 * half an interval, so even a slow answer lands the keep-alive well inside `WatchdogSec`;
 * a failed or late one skips that keep-alive, and two in a row let systemd act.
 */
export class Watchdog {
  readonly #o: WatchdogOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<boolean> | undefined;
  #stopped = false;
  #failures = 0;

  /** Makes a stopped watchdog; {@link start} arms it. */
  constructor(opts: WatchdogOptions) {
    this.#o = opts;
  }

  /** Runs one round now: check, then keep-alive if healthy. Returns whether one was sent. */
  tick(): Promise<boolean> {
    this.#inFlight ??= this.#round().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #round(): Promise<boolean> {
    const budgetMs = Math.max(1, Math.floor(this.#o.intervalMs / 2));
    try {
      await this.#o.check(budgetMs);
    } catch (err) {
      this.#failures++;
      this.#o.logger.warn("not feeding the systemd watchdog: health check failed", {
        failures: this.#failures,
        err: messageOf(err),
      });
      return false;
    }
    if (this.#stopped) return false;
    if (this.#failures > 0) {
      this.#o.logger.info("health check passes again", { after: this.#failures });
      this.#failures = 0;
    }
    return this.#o.notifier.watchdog();
  }

  /** Schedules a round every interval, measured from each round's start. */
  start(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    const loop = () => {
      const started = performance.now();
      void this.tick().finally(() => {
        if (this.#stopped) return;
        const wait = Math.max(0, this.#o.intervalMs - (performance.now() - started));
        this.#arm(loop, wait);
      });
    };
    this.#arm(loop, 0);
  }

  #arm(fn: () => void, ms: number): void {
    const timer = setTimeout(fn, ms);
    // The agent lives until a stop signal; a forgotten watchdog must not keep it alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops for good; waits for a round in flight so no keep-alive follows STOPPING=1. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight?.catch(() => {});
  }
}

/** Notification values are line-based: a newline would start a new assignment. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, " ");
}
