/**
 * Connections to a shim's socket: the hello, and the control client that multiplexes calls
 * over one connection.
 *
 * @module
 */
import {
  canceled,
  deadlineExceeded,
  type ErrorKind,
  SauropodError,
  unavailable,
} from "../../errors/mod.ts";
import {
  ByteReader,
  type Calls,
  encodeLine,
  type Hello,
  isRecord,
  type Op,
  PROTOCOL_VERSION,
  SerialWriter,
} from "../protocol.ts";
import { smallChunks } from "../../lib/io/small_chunks.ts";

/** Distributes the hello's parts; `Hello` minus the version and id. */
export type HelloBody =
  | { kind: "control" }
  | { kind: "attach"; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: "exec"; exec: Extract<Hello, { kind: "exec" }>["exec"] };

/** An open connection whose hello was accepted. */
export interface Dialed {
  readonly conn: Deno.UnixConn;
  readonly reader: ByteReader;
  readonly writer: SerialWriter;
  readonly shimPid: number;
  /** The exec'd process's pid (exec connections). */
  readonly pid: number | undefined;
}

const KINDS: readonly ErrorKind[] = [
  "not-found",
  "already-exists",
  "invalid-argument",
  "failed-precondition",
  "unavailable",
  "unimplemented",
  "deadline-exceeded",
  "canceled",
  "resource-exhausted",
  "permission-denied",
  "internal",
];

/** A shim's error, back as a SauropodError of the same kind. */
export function fromWire(v: unknown): SauropodError {
  if (isRecord(v) && typeof v.message === "string") {
    const kind = KINDS.includes(v.kind as ErrorKind) ? v.kind as ErrorKind : "internal";
    return new SauropodError(kind, v.message);
  }
  return new SauropodError("internal", `malformed error from shim: ${JSON.stringify(v)}`);
}

/** Connects to `socketPath` and says hello for container `id`. */
export async function dial(socketPath: string, id: string, body: HelloBody): Promise<Dialed> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch (err) {
    throw unavailable(`shim of container "${id}" is not reachable at ${socketPath}`, {
      cause: err,
    });
  }
  const reader = new ByteReader(smallChunks(conn));
  const writer = new SerialWriter(conn);
  try {
    await writer.write(encodeLine({ v: PROTOCOL_VERSION, id, ...body }));
    const line = await reader.readLine();
    if (line === null) throw new Error("connection closed before the hello reply");
    const reply: unknown = JSON.parse(line);
    if (!isRecord(reply)) throw new Error(`malformed hello reply ${line}`);
    if (reply.ok !== true) throw fromWire(reply.error);
    if (typeof reply.shimPid !== "number") throw new Error(`malformed hello reply ${line}`);
    return {
      conn,
      reader,
      writer,
      shimPid: reply.shimPid,
      pid: typeof reply.pid === "number" ? reply.pid : undefined,
    };
  } catch (err) {
    reader.cancel();
    try {
      conn.close();
    } catch {
      // already closed
    }
    if (err instanceof SauropodError) throw err;
    throw unavailable(`shim of container "${id}" failed the hello`, { cause: err });
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A control connection: overlapping calls, each answered by `seq`. */
export class ControlClient {
  /** The container id. */
  readonly id: string;
  /** The shim's pid, from its hello reply. */
  readonly shimPid: number;
  /** Resolves when the connection has ended, whoever ended it. */
  readonly closed: Promise<void>;
  readonly #d: Dialed;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #ended = false;
  #closedByUs = false;

  private constructor(id: string, d: Dialed) {
    this.id = id;
    this.#d = d;
    this.shimPid = d.shimPid;
    this.closed = this.#readLoop();
  }

  /** Opens a control connection. */
  static async open(socketPath: string, id: string): Promise<ControlClient> {
    return new ControlClient(id, await dial(socketPath, id, { kind: "control" }));
  }

  /** True once the connection ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** True when {@link close} ended it (not the shim). */
  get closedByUs(): boolean {
    return this.#closedByUs;
  }

  /** Calls `op`; `timeoutMs` bounds the wait for the answer. */
  call<O extends Op>(
    op: O,
    params: Calls[O]["params"],
    timeoutMs?: number,
  ): Promise<Calls[O]["result"]> {
    if (this.#ended) {
      return Promise.reject(
        unavailable(`connection to the shim of container "${this.id}" is closed`),
      );
    }
    const seq = ++this.#seq;
    return new Promise<Calls[O]["result"]>((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.#pending.delete(seq);
        reject(
          deadlineExceeded(
            `the shim of container "${this.id}" did not answer ${op} within ${timeoutMs / 1000} s`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(seq, {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer,
      });
      this.#d.writer.write(encodeLine({ seq, op, params })).catch((err) => {
        const p = this.#pending.get(seq);
        if (!p) return;
        this.#pending.delete(seq);
        clearTimeout(p.timer);
        p.reject(unavailable(`cannot send ${op} to the shim of container "${this.id}"`, {
          cause: err,
        }));
      });
    });
  }

  /** Closes the connection; calls in flight reject with canceled. */
  close(): void {
    if (this.#ended) return;
    this.#closedByUs = true;
    this.#d.reader.cancel();
    try {
      this.#d.conn.close();
    } catch {
      // already closed
    }
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const line = await this.#d.reader.readLine();
        if (line === null) break;
        let res: unknown;
        try {
          res = JSON.parse(line);
        } catch {
          continue;
        }
        if (!isRecord(res) || typeof res.seq !== "number") continue;
        const p = this.#pending.get(res.seq);
        if (!p) continue;
        this.#pending.delete(res.seq);
        clearTimeout(p.timer);
        if (res.ok === true) p.resolve(res.result);
        else p.reject(fromWire(res.error));
      }
    } catch {
      // the connection broke: same as closed
    } finally {
      this.#ended = true;
      try {
        this.#d.conn.close();
      } catch {
        // already closed
      }
      for (const [seq, p] of this.#pending) {
        this.#pending.delete(seq);
        clearTimeout(p.timer);
        p.reject(
          this.#closedByUs
            ? canceled(`connection to the shim of container "${this.id}" was closed`)
            : unavailable(`the shim of container "${this.id}" closed the connection`),
        );
      }
    }
  }
}
