/**
 * A {@link StreamingBackend} over real local processes, for the streaming server's
 * integration tests: exec runs the command on the host (through a fresh pty when a tty is
 * asked for), attach joins a long-running local "container" process whose output is fanned
 * out to every attacher, and port-forward dials a real TCP port (on the host, or through a
 * {@link NetnsDialer} in a test network namespace).
 *
 * It stands in for the runtime only; every byte still crosses real processes, ptys and
 * sockets.
 *
 * @module
 */
import { canceled, failedPrecondition, notFound, unavailable } from "../../errors/mod.ts";
import { closeFd, FdStream } from "../../ffi/fd.ts";
import { openPty, setWindowSize } from "../../ffi/pty.ts";
import { Feed } from "../_feed.ts";
import { tcpDuplex } from "../../lib/tcp_duplex.ts";
import type {
  PortForwardConnection,
  StdioSession,
  StreamingBackend,
  TerminalSize,
} from "../_types.ts";

/** The EOF character a terminal's line discipline turns into end of file (^D). */
const EOT = new Uint8Array([4]);

/** Something that spawned processes and must be cleaned up. */
interface Owned {
  kill(): void;
  readonly done: Promise<unknown>;
}

/** Spawns `cmd` with its stdio on a new pty, as a session leader with that controlling tty. */
function spawnOnPty(cmd: readonly string[]): {
  child: Deno.ChildProcess;
  master: FdStream;
  releaseSlave(): void;
} {
  const { master, slave } = openPty();
  const ttyPath = Deno.readLinkSync(`/proc/self/fd/${slave}`);
  let child: Deno.ChildProcess;
  try {
    // setsid -c makes the tty (its stdin) the controlling terminal of the new session.
    child = new Deno.Command("sh", {
      args: ["-c", 'exec setsid -c -w "$@" <"$SP_TTY" >"$SP_TTY" 2>&1', "sh", ...cmd],
      env: { SP_TTY: ttyPath },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (err) {
    closeFd(master);
    closeFd(slave);
    throw err;
  }
  let released = false;
  return {
    child,
    master: new FdStream(master),
    // Our copy of the slave keeps the master from reading EOF before the child opened its
    // own; once the child has exited, dropping it lets the master drain and end.
    releaseSlave: () => {
      if (released) return;
      released = true;
      closeFd(slave);
    },
  };
}

/** A long-running local process standing in for a running container. */
export class LocalContainer implements Owned {
  readonly id: string;
  /** Resolves with the exit code. */
  readonly done: Promise<number>;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #subscribers = new Set<{ out?: Feed; err?: Feed }>();
  #exited = false;

  /** Starts `cmd`; stdout and stderr go to every attacher. */
  constructor(id: string, cmd: readonly string[]) {
    this.id = id;
    this.#child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    const fanOut = async (r: ReadableStream<Uint8Array>, which: "out" | "err") => {
      for await (const chunk of r) {
        await Promise.all([...this.#subscribers].map((s) => s[which]?.push(chunk)));
      }
    };
    const pumps = Promise.all([
      fanOut(this.#child.stdout, "out"),
      fanOut(this.#child.stderr, "err"),
    ]);
    this.done = this.#child.status.then(async (s) => {
      await pumps.catch(() => {});
      await this.#writer.close().catch(() => {});
      this.#exited = true;
      for (const sub of this.#subscribers) {
        sub.out?.close();
        sub.err?.close();
      }
      return s.code;
    });
  }

  /** True while the process runs. */
  get running(): boolean {
    return !this.#exited;
  }

  /** Attachers right now. */
  get attachers(): number {
    return this.#subscribers.size;
  }

  /** Writes to the container's stdin from the side (as another process would). */
  async write(text: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(text));
  }

  /** A session on the container's stdio. */
  attach(opts: { stdin: boolean; stdout: boolean; stderr: boolean }): StdioSession {
    const sub = {
      ...(opts.stdout ? { out: new Feed() } : {}),
      ...(opts.stderr ? { err: new Feed() } : {}),
    };
    this.#subscribers.add(sub);
    const { promise: detached, reject: detach } = Promise.withResolvers<never>();
    const exit = Promise.race([this.done.then((exitCode) => ({ exitCode })), detached]);
    exit.catch(() => {});
    const close = () => {
      if (!this.#subscribers.delete(sub)) return;
      sub.out?.close();
      sub.err?.close();
      detach(canceled(`attach to "${this.id}" was closed`));
    };
    return {
      ...(opts.stdin
        ? {
          stdin: new WritableStream<Uint8Array>({
            write: (chunk) => this.#writer.write(chunk),
            // Not stdin_once: the container's stdin stays open for the next attacher.
          }),
        }
        : {}),
      ...(sub.out ? { stdout: sub.out.readable } : {}),
      ...(sub.err ? { stderr: sub.err.readable } : {}),
      resize: () => Promise.resolve(),
      exit,
      close,
    };
  }

  /** Stops the container. */
  kill(): void {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** Options of a {@link LocalBackend}. */
export interface LocalBackendOptions {
  /** How port-forward dials; default: 127.0.0.1:port on the host. */
  readonly dial?: (podSandboxId: string, port: number) => Promise<PortForwardConnection>;
}

/** The backend. {@link close} it in the test's `finally`. */
export class LocalBackend implements StreamingBackend {
  readonly #containers = new Map<string, LocalContainer>();
  readonly #owned = new Set<Owned>();
  readonly #dial: (podSandboxId: string, port: number) => Promise<PortForwardConnection>;
  /** Terminal sizes applied, per exec, in order (for resize assertions). */
  readonly resizes: TerminalSize[] = [];
  /** Execs started. */
  execCount = 0;

  /** A backend with no containers. */
  constructor(opts: LocalBackendOptions = {}) {
    this.#dial = opts.dial ?? ((_, port) => dialHost(port));
  }

  /** Starts a "container" that exec and attach can then use. */
  startContainer(id: string, cmd: readonly string[]): LocalContainer {
    const c = new LocalContainer(id, cmd);
    this.#containers.set(id, c);
    this.#owned.add(c);
    return c;
  }

  /** Processes still running (exec'd commands and containers): a leak check. */
  get liveProcesses(): number {
    return this.#owned.size;
  }

  #running(id: string): LocalContainer {
    const c = this.#containers.get(id);
    if (!c) throw notFound(`container "${id}" not found`);
    if (!c.running) throw failedPrecondition(`container "${id}" is not running`);
    return c;
  }

  exec(
    containerId: string,
    opts: { cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean },
  ): Promise<StdioSession> {
    this.#running(containerId);
    this.execCount++;
    return Promise.resolve(opts.tty ? this.#execTty(opts) : this.#execPipes(opts));
  }

  #execPipes(
    opts: { cmd: string[]; stdin: boolean; stdout: boolean; stderr: boolean },
  ): StdioSession {
    const child = new Deno.Command(opts.cmd[0]!, {
      args: opts.cmd.slice(1),
      stdin: opts.stdin ? "piped" : "null",
      stdout: opts.stdout ? "piped" : "null",
      stderr: opts.stderr ? "piped" : "null",
    }).spawn();
    const owned = this.#own(child, () => {});
    return {
      ...(opts.stdin ? { stdin: child.stdin } : {}),
      ...(opts.stdout ? { stdout: child.stdout } : {}),
      ...(opts.stderr ? { stderr: child.stderr } : {}),
      resize: () => Promise.resolve(),
      exit: owned.done.then((code) => ({ exitCode: code })),
      close: () => owned.kill(),
    };
  }

  #execTty(opts: { cmd: string[]; stdin: boolean }): StdioSession {
    const { child, master, releaseSlave } = spawnOnPty(opts.cmd);
    const owned = this.#own(child, () => {
      releaseSlave();
    });
    let exited = false;
    owned.done.then(() => (exited = true));
    return {
      ...(opts.stdin
        ? {
          stdin: new WritableStream<Uint8Array>({
            write: (chunk) => master.write(chunk),
            close: () => (exited ? undefined : master.write(EOT)),
          }),
        }
        : {}),
      stdout: master.readable,
      resize: (size) => {
        this.resizes.push(size);
        setWindowSize(master.fd, { cols: size.width, rows: size.height });
        return Promise.resolve();
      },
      exit: owned.done.then((code) => ({ exitCode: code })),
      close: () => {
        owned.kill();
        owned.done.finally(() => master.close());
      },
    };
  }

  #own(child: Deno.ChildProcess, onExit: () => void): { done: Promise<number>; kill(): void } {
    let exited = false;
    const done = child.status.then((s) => {
      exited = true;
      onExit();
      return s.code;
    });
    const entry: Owned = {
      done,
      kill: () => {
        if (exited) return;
        try {
          child.kill("SIGKILL");
        } catch {
          // Already exited.
        }
      },
    };
    this.#owned.add(entry);
    done.finally(() => this.#owned.delete(entry));
    return { done, kill: entry.kill };
  }

  attach(
    containerId: string,
    opts: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean },
  ): Promise<StdioSession> {
    return Promise.resolve(this.#running(containerId).attach(opts));
  }

  portForward(podSandboxId: string, port: number): Promise<PortForwardConnection> {
    return this.#dial(podSandboxId, port);
  }

  /** Kills every process and waits for them. */
  async close(): Promise<void> {
    const all = [...this.#owned];
    for (const o of all) o.kill();
    await Promise.allSettled(all.map((o) => o.done));
    for (const c of this.#containers.values()) this.#owned.delete(c);
  }
}

/** Dials `127.0.0.1:port` on the host, as a {@link PortForwardConnection}. */
export async function dialHost(port: number): Promise<PortForwardConnection> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (err) {
    throw unavailable(`dial tcp4 127.0.0.1:${port}: ${err instanceof Error ? err.message : err}`);
  }
  return tcpDuplex(conn);
}
