/**
 * A runtime daemon (containerd or the sauropod agent) as an operator runs it: one process,
 * its log appended to a file, started, stopped with SIGTERM (containers keep running, as
 * on `systemctl restart`) and started again.
 *
 * @module
 */
import { unavailable } from "../errors/mod.ts";
import { CriClient } from "../tests/harness/cri_client.ts";
import { lastError } from "./_logs.ts";

/** How to run one daemon. */
export interface DaemonSpec {
  /** Human name for errors ("containerd"). */
  readonly name: string;
  readonly argv: readonly string[];
  readonly cwd?: string;
  /** Its CRI socket, polled until Version answers. */
  readonly socket: string;
  /** stdout and stderr are appended here. */
  readonly logPath: string;
  readonly env?: Readonly<Record<string, string>>;
}

const POLL_MS = 10;

/** A daemon process; at most one running at a time. */
export class Daemon {
  readonly spec: DaemonSpec;
  #child: Deno.ChildProcess | undefined;
  #exited: Promise<Deno.CommandStatus> | undefined;

  /** Wraps `spec` (nothing runs until {@link start}). */
  constructor(spec: DaemonSpec) {
    this.spec = spec;
  }

  /** The running process's pid. */
  get pid(): number {
    if (!this.#child) throw unavailable(`${this.spec.name} is not running`);
    return this.#child.pid;
  }

  /** Whether the process was started and has not been stopped. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /**
   * Spawns the daemon and resolves with a CRI client once Version answers on its socket.
   * The client is new: one connection, like the kubelet's.
   */
  async start(timeoutMs = 60_000): Promise<CriClient> {
    if (this.#child) throw unavailable(`${this.spec.name} is already running`);
    await Deno.remove(this.spec.socket).catch(() => {});
    // The shell only sets up the log redirection; `exec` makes the daemon keep its pid.
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$@" >>"$BENCH_LOG" 2>&1', "sh", ...this.spec.argv],
      ...(this.spec.cwd ? { cwd: this.spec.cwd } : {}),
      env: { ...(this.spec.env ?? {}), BENCH_LOG: this.spec.logPath },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    const exited = child.status;
    this.#exited = exited;
    let gone = false;
    void exited.then(() => gone = true);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (gone) {
        this.#child = undefined;
        throw unavailable(
          `${this.spec.name} exited during start-up (code ${(await exited).code}): ${
            lastError(await this.tail(50))
          } (log: ${this.spec.logPath})`,
        );
      }
      const client = await this.#probe();
      if (client) return client;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    await this.stop();
    throw unavailable(`${this.spec.name} did not answer Version within ${timeoutMs} ms`);
  }

  async #probe(): Promise<CriClient | undefined> {
    try {
      (await Deno.connect({ transport: "unix", path: this.spec.socket })).close();
    } catch {
      return undefined;
    }
    const client = new CriClient(this.spec.socket, { timeoutMs: 60_000 });
    try {
      await client.runtime.version({}, { timeoutMs: 2_000 });
      return client;
    } catch {
      client.close();
      return undefined;
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 20_000): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        resolve();
      }, graceMs);
    });
    await Promise.race([exited, killed]);
    await exited;
    clearTimeout(timer);
    this.#child = undefined;
    this.#exited = undefined;
  }

  /** The last lines of the daemon's log, for error messages. */
  async tail(lines = 30): Promise<string> {
    const text = await Deno.readTextFile(this.spec.logPath).catch(() => "");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  }
}
