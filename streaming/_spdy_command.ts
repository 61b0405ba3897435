/**
 * The remote-command protocols over SPDY (`channel.k8s.io` to `v5.channel.k8s.io`): the
 * client opens one stream per channel, each named by its `streamType` header; the server
 * replies to each and starts the command once all the expected streams exist (kubelet
 * `cri/streaming/remotecommand/httpstream.go`).
 *
 * - v1/v2: stdin, stdout, stderr, error (failures as text);
 * - v3: adds `resize` (JSON sizes) when a tty is requested;
 * - v4: the error stream carries a JSON `metav1.Status` with the exit code;
 * - v5: as v4 over SPDY (its CLOSE signal only exists for WebSocket).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { CommandChannels, OutputChannel } from "./_command.ts";
import { encodeStatusV1, encodeStatusV4 } from "./_status.ts";
import { RstStatus, type SpdySession, type SpdyStream } from "../lib/spdy/mod.ts";

/** Protocols we accept, in the order we would pick them (the client's order decides). */
export const REMOTE_COMMAND_PROTOCOLS = [
  "v5.channel.k8s.io",
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
] as const;

/** How long to wait, after the upgrade, for the client to open every expected stream. */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

/** How long finish() waits for the client to close the connection after our GOAWAY. */
const SHUTDOWN_GRACE_MS = 5_000;

type StreamType = "error" | "stdin" | "stdout" | "stderr" | "resize";
const TYPES = new Set<string>(["error", "stdin", "stdout", "stderr", "resize"]);

/** Collects the streams of one remote-command connection. */
export class SpdyCommandStreams {
  readonly #protocol: string;
  readonly #expected: number;
  readonly #log: Logger;
  readonly #streams = new Map<StreamType, SpdyStream>();
  readonly #all: SpdyStream[] = [];
  readonly #complete = Promise.withResolvers<void>();
  #replies = 0;

  /** For `protocol`, expecting the channels of `opts`. */
  constructor(
    protocol: string,
    opts: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
    log: Logger,
  ) {
    this.#protocol = protocol;
    this.#log = log;
    const resize = opts.tty && supportsResize(protocol);
    this.#expected = 1 + Number(opts.stdin) + Number(opts.stdout) + Number(opts.stderr) +
      Number(resize);
  }

  /** The session's stream handler. */
  readonly onStream = (s: SpdyStream): void => {
    if (this.#replies >= this.#expected) {
      this.#log.debug("refusing an extra remote-command stream", { streamId: s.id });
      s.reset(RstStatus.RefusedStream);
      return;
    }
    this.#all.push(s);
    const type = s.header("streamtype") ?? "";
    s.reply().catch(() => {});
    if (!TYPES.has(type)) {
      // The kubelet replies to and then ignores a stream of unknown type; so do we.
      this.#log.debug("ignoring a remote-command stream of unknown type", { streamType: type });
      s.readable.cancel().catch(() => {});
      return;
    }
    this.#streams.set(type as StreamType, s);
    this.#replies++;
    if (this.#replies === this.#expected) this.#complete.resolve();
  };

  /**
   * Waits for every expected stream; `undefined` if the connection ends or `timeoutMs`
   * passes first (the caller then closes the connection, as the kubelet does).
   */
  async wait(session: SpdySession, timeoutMs: number): Promise<CommandChannels | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((
      r,
    ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
    const outcome = await Promise.race([
      this.#complete.promise.then(() => "complete" as const),
      session.done.then(() => "gone" as const),
      timeout,
    ]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.#log.warn("timed out waiting for the client to create streams", {
        expected: this.#expected,
        received: this.#replies,
      });
      const err = this.#streams.get("error");
      if (err) {
        await this.#writeStatus(err, {
          status: "Failure",
          message: "timed out waiting for client to create streams",
          reason: "InternalError",
          code: 500,
        }).catch(() => {});
      }
      return undefined;
    }
    if (outcome === "gone") return undefined;
    return this.#channels(session);
  }

  #writeStatus(
    err: SpdyStream,
    status: Parameters<CommandChannels["writeStatus"]>[0],
  ): Promise<void> {
    const bytes = this.#protocol.startsWith("v4.") || this.#protocol.startsWith("v5.")
      ? encodeStatusV4(status)
      : encodeStatusV1(status);
    return bytes ? err.write(bytes) : Promise.resolve();
  }

  #channels(session: SpdySession): CommandChannels {
    const get = (t: StreamType) => this.#streams.get(t);
    const out = (s: SpdyStream | undefined): OutputChannel | undefined =>
      s && {
        write: (d) => s.write(d),
        end: () => s.end(),
      };
    // Streams whose client-to-server side we do not read must not back up the connection.
    for (const t of ["stdout", "stderr", "error"] as const) {
      get(t)?.readable.cancel().catch(() => {});
    }
    const errorStream = get("error")!;
    const all = this.#all;
    return {
      stdin: get("stdin")?.readable,
      stdout: out(get("stdout")),
      stderr: out(get("stderr")),
      resize: get("resize")?.readable,
      writeStatus: (status) => this.#writeStatus(errorStream, status),
      gone: session.done,
      async finish() {
        // FIN on every stream: client-go waits for stdout and stderr to end, reads the
        // error stream to its end, and waits for our side of stdin to close too.
        await Promise.allSettled(all.map((s) => s.end()));
        await session.shutdown(SHUTDOWN_GRACE_MS);
      },
      abort: () => session.close(),
    };
  }
}

function supportsResize(protocol: string): boolean {
  return protocol === "v3.channel.k8s.io" || protocol === "v4.channel.k8s.io" ||
    protocol === "v5.channel.k8s.io";
}
