// deno-lint-ignore-file no-console
/**
 * A stand-in for systemd's notification socket in tests: a unix datagram socket that
 * records every message it receives, in order.
 *
 * It runs as its own process on Deno's `Deno.listenDatagram` (behind `--unstable-net`, so
 * the test runner needs no unstable flag), which also makes it an implementation
 * independent of the sender under test (`ffi/notify.ts`). The child prints one JSON line
 * per datagram and exits when its stdin closes, so a failing test cannot leak it.
 *
 * @module
 */

/** One received notification: its `KEY=VALUE` lines, and its arrival order. */
export interface Received {
  readonly seq: number;
  readonly text: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Parses a notification message into its assignments (last one wins, as in systemd). */
export function parseNotification(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** The test-side handle of a listener process. */
export class NotifyListener implements AsyncDisposable {
  /** The socket path to pass as `NOTIFY_SOCKET`. */
  readonly path: string;
  /** Everything received so far. */
  readonly received: Received[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #done: Promise<void>;
  #waiters: Array<() => void> = [];
  #ended = false;

  private constructor(path: string, child: Deno.ChildProcess) {
    this.path = path;
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#done = this.#pump();
  }

  /** Starts a listener on `path` (which must not exist) and waits until it is bound. */
  static async start(path: string): Promise<NotifyListener> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--unstable-net",
        `--allow-read=${path}`,
        `--allow-write=${path}`,
        `--allow-net=unix:${path}`,
        new URL(import.meta.url).pathname,
        path,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const listener = new NotifyListener(path, child);
    try {
      await listener.waitFor((r) => r.seq === 0 && r.text === "", 30_000);
    } catch (err) {
      await listener[Symbol.asyncDispose]();
      throw err;
    }
    listener.received.length = 0;
    return listener;
  }

  async #pump(): Promise<void> {
    let buf = "";
    let seq = 0;
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const { text } = JSON.parse(line) as { text: string };
        this.received.push({ seq: seq++, text, fields: parseNotification(text) });
        for (const w of this.#waiters.splice(0)) w();
      }
    }
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * Resolves with the first message satisfying `pred` (looking at what already arrived
   * too); rejects after `deadlineMs` (a guard against hanging, not a timing assertion).
   */
  async waitFor(pred: (r: Received) => boolean, deadlineMs = 60_000): Promise<Received> {
    const end = Date.now() + deadlineMs;
    while (true) {
      const hit = this.received.find(pred);
      if (hit) return hit;
      const left = end - Date.now();
      if (left <= 0 || this.#ended) {
        throw new Error(
          `no matching notification ${
            this.#ended ? "before the listener exited" : `within ${deadlineMs} ms`
          }; got ${JSON.stringify(this.received.map((r) => r.text))}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Stops the listener process and removes its socket. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.#stdin.close();
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#done;
    await Deno.remove(this.path).catch(() => {});
  }
}

if (import.meta.main) {
  const path = Deno.args[0]!;
  // @ts-ignore: unstable API (enabled by --unstable-net in the command above)
  const sock: Deno.DatagramConn = Deno.listenDatagram({ transport: "unixpacket", path });
  const out = (text: string) => console.log(JSON.stringify({ text }));
  out(""); // bound
  void (async () => {
    for await (const _ of Deno.stdin.readable) {
      // stdin carries nothing; its end is the signal to stop
    }
    sock.close();
  })();
  const decoder = new TextDecoder();
  try {
    for await (const [data] of sock) out(decoder.decode(data));
  } catch {
    // closed
  }
  await Deno.remove(path).catch(() => {});
  Deno.exit(0);
}
