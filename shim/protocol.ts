/**
 * The shim protocol, shared by the shim (`shim/server/`) and the agent's client
 * (`shim/client/`), and the one owner of the shapes both sides (and the streaming server,
 * which relays a shim's stdio) agree on: {@link RuntimeSpec}, {@link TerminalSize},
 * {@link StdioSession} and the container id rule ({@link isContainerId}).
 *
 * One unix socket per shim, `<stateDir>/ctl`. Every connection opens with a hello
 * line (JSON, client → shim) naming the protocol version, the container id and the
 * connection's kind, and the shim answers with one JSON line. Then:
 *
 * - `control`: JSON lines both ways. Requests carry a `seq` the response repeats, so calls
 *   overlap on one connection (a `wait` stays pending while others come and go).
 * - `attach` and `exec`: binary frames for the stdio of the container or of one exec'd
 *   process, `[type u8][length u32 BE][payload]`. An empty STDIN/STDOUT/STDERR frame ends
 *   that stream; EXIT (JSON `{exitCode, timedOut?}`) is the last frame of an exec and
 *   of an attach whose container exits.
 *
 * Version rule: the shim accepts hellos with `v` ≤ its own and answers in the client's
 * version; a new field must be optional, a new meaning needs a new version.
 *
 * This module is imported by the shim: it must stay small and import nothing but types.
 *
 * @module
 */
import type { ErrorKind } from "../errors/mod.ts";

/** The protocol version this code speaks. */
export const PROTOCOL_VERSION = 1;

/** Longest hello or control line accepted (an `update` carries OCI resources). */
export const MAX_LINE_BYTES = 1 << 20;
/** Largest frame payload accepted. */
export const MAX_FRAME_BYTES = 1 << 20;

/** The control socket in a shim's state directory. */
/**
 * Socket names are short on purpose: a unix socket path must fit in 108 bytes, and the
 * shim directory already holds a 64-character id (see `config/mod.ts`).
 */
export const SOCKET_FILE = "ctl";
/** The shim's pid, written once its socket listens. */
export const PID_FILE = "shim.pid";
/** The exit record of the container's init (see {@link ExitInfo}). */
export const EXIT_FILE = "exit.json";
/** The shim's own log, JSON lines. */
export const SHIM_LOG_FILE = "shim.log";

/** An error as it crosses the socket; the client turns it back into a SauropodError. */
export interface WireError {
  readonly kind: ErrorKind;
  readonly message: string;
}

/** How the shim runs the OCI runtime. */
export interface RuntimeSpec {
  /** Absolute path of the runtime binary (runc). */
  readonly binary: string;
  /** The runtime's state root (`runc --root`). */
  readonly root: string;
  /** Pass `--systemd-cgroup` (cgroupsPath is `slice:prefix:name`). */
  readonly systemdCgroup: boolean;
  /** A runtime call running longer than this is killed and fails with deadline-exceeded. */
  readonly callTimeoutMs: number;
  /** Extra global flags before each command (the handler's `options`); absent: none. */
  readonly options?: readonly string[];
}

/** A runtime option as a handler may give it: `--flag` or `--flag=value`, bounded. */
export function isRuntimeOption(o: unknown): o is string {
  return typeof o === "string" && o.length <= 256 && /^--[a-z0-9][-a-z0-9]*(=[^\0]*)?$/.test(o);
}

/** Parameters of `create`. */
export interface CreateParams {
  /** The OCI bundle directory (holds config.json). */
  readonly bundle: string;
  readonly runtime: RuntimeSpec;
  /** The CRI log file; absent: output is discarded (attachers still see it). */
  readonly logPath?: string;
  /** Give the container a pty (process.terminal in config.json must agree). */
  readonly tty: boolean;
  /** Keep the container's stdin open for attachers. */
  readonly stdin: boolean;
  /** Close the container's stdin when the first attacher that used it detaches. */
  readonly stdinOnce: boolean;
  /**
   * Restore from a checkpoint instead of creating: nothing runs until `start`, which runs
   * `runc restore` with the shim's new stdio (absent from older agents).
   */
  readonly restore?: RestoreSpec;
}

/** The CRIU options of a dump, repeated by its restore. */
export interface CriuFlags {
  /** `--tcp-established`: established TCP connections are dumped and repaired. */
  readonly tcpEstablished: boolean;
  /** `--ext-unix-sk`: unix sockets with a peer outside the container. */
  readonly extUnixSk: boolean;
  /** `--shell-job`: the process tree has a controlling terminal from outside. */
  readonly shellJob: boolean;
  /** `--file-locks`: held file locks are dumped. */
  readonly fileLocks: boolean;
}

/** Where a restore's CRIU images are and how they were dumped. */
export interface RestoreSpec extends CriuFlags {
  /** The CRIU image directory (`runc restore --image-path`). */
  readonly imagePath: string;
  /** CRIU's work directory (its restore.log). */
  readonly workPath: string;
}

/** Parameters of `checkpoint` (`runc checkpoint`). */
export interface CheckpointParams extends CriuFlags {
  readonly imagePath: string;
  readonly workPath: string;
  /** Keep the container running after the dump (`--leave-running`). */
  readonly leaveRunning: boolean;
  /** The dump is killed after this long (and the container thawed). */
  readonly timeoutMs: number;
}

/** How a process ended, as recorded in `exit.json` and sent to waiters. */
export interface ExitInfo {
  /** The exit code, or 128 + the signal that killed it. */
  readonly exitCode: number;
  /** The signal that killed it, when one did. */
  readonly signal?: number;
  /** Exit time, RFC 3339 with nanoseconds, UTC. */
  readonly exitedAt: string;
  /** Exit time in nanoseconds since the epoch, as a decimal string (JSON has no int64). */
  readonly exitedAtNs: string;
  /** The kernel OOM-killed a process of the container's memory cgroup. */
  readonly oomKilled: boolean;
}

/** Validates an {@link ExitInfo} read from the wire or from `exit.json`. */
export function parseExitInfo(v: unknown): ExitInfo {
  if (
    !isRecord(v) || typeof v.exitCode !== "number" || typeof v.exitedAt !== "string" ||
    typeof v.exitedAtNs !== "string" || !/^\d+$/.test(v.exitedAtNs) ||
    typeof v.oomKilled !== "boolean" ||
    (v.signal !== undefined && typeof v.signal !== "number")
  ) {
    throw new Error(`malformed exit record: ${JSON.stringify(v)}`);
  }
  const base = {
    exitCode: v.exitCode,
    exitedAt: v.exitedAt,
    exitedAtNs: v.exitedAtNs,
    oomKilled: v.oomKilled,
  };
  return typeof v.signal === "number" ? { ...base, signal: v.signal } : base;
}

/** The container's status as the shim sees it. */
export interface StateInfo {
  readonly status: "created" | "running" | "stopped";
  /** The init pid (0 before create). */
  readonly pid: number;
  readonly exit?: ExitInfo;
}

/** A terminal size: CRI's width (columns) and height (rows). */
export interface TerminalSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The stdio of an attach or a streaming exec, as the shim client hands it to the streaming
 * server.
 */
export interface StdioSession {
  /** Bytes for the process's stdin; closing it closes (or, on a tty, ^D's) stdin. */
  stdin?: WritableStream<Uint8Array>;
  /** The process's stdout (on a tty: all of its output). */
  stdout?: ReadableStream<Uint8Array>;
  /** The process's stderr (never on a tty). */
  stderr?: ReadableStream<Uint8Array>;
  /** Resizes the terminal (a no-op in effect without one). */
  resize(size: TerminalSize): Promise<void>;
  /**
   * Resolves when the process (exec) or container (attach) exits; rejects when the session
   * ends first (closed, or the shim went away).
   */
  exit: Promise<{ exitCode: number }>;
  /** Ends the session: an exec'd process is killed, an attached container keeps running. */
  close(): void;
}

/** Container ids as containerd accepts them (the CRI's are 64 hex digits). */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Is `id` a container id a shim accepts? It names a state folder, a runc container and a
 * cgroup: letters, digits, `_`, `.`, `-`, at most 128, never a path (no `..`).
 */
export function isContainerId(id: string): boolean {
  return CONTAINER_ID.test(id) && !id.includes("..");
}

/** Every control call: its parameters and its result. */
export interface Calls {
  create: { params: CreateParams; result: { pid: number } };
  /** `startedAtNs`: the shim's clock just before `runc start` (absent from older shims). */
  start: { params: Record<never, never>; result: { pid: number; startedAtNs?: string } };
  kill: { params: { signal: number; all?: boolean }; result: Record<never, never> };
  state: { params: Record<never, never>; result: StateInfo };
  wait: { params: Record<never, never>; result: ExitInfo };
  resize: { params: TerminalSize; result: Record<never, never> };
  reopenLog: { params: Record<never, never>; result: Record<never, never> };
  update: { params: { resources: unknown }; result: Record<never, never> };
  delete: { params: Record<never, never>; result: { exit?: ExitInfo } };
  /** `runc pause`: the container's cgroup frozen. */
  pause: { params: Record<never, never>; result: Record<never, never> };
  /** `runc resume`: thawed. */
  resume: { params: Record<never, never>; result: Record<never, never> };
  checkpoint: { params: CheckpointParams; result: Record<never, never> };
}

/** A control call's name. */
export type Op = keyof Calls;

/** The list of ops, for validation. */
export const OPS: readonly Op[] = [
  "create",
  "start",
  "kill",
  "state",
  "wait",
  "resize",
  "reopenLog",
  "update",
  "delete",
  "pause",
  "resume",
  "checkpoint",
];

/** A control request line. */
export interface Request<O extends Op = Op> {
  readonly seq: number;
  readonly op: O;
  readonly params: Calls[O]["params"];
}

/** A control response line. */
export type Response =
  | { readonly seq: number; readonly ok: true; readonly result: unknown }
  | { readonly seq: number; readonly ok: false; readonly error: WireError };

/** The command of an exec'd process. */
export interface ExecSpec {
  readonly args: readonly string[];
  /** `KEY=value` entries added to the container's environment. */
  readonly env?: readonly string[];
  readonly cwd?: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  /**
   * ExecSync: kill the process after this long and report `timedOut`. Absent or 0: no
   * limit.
   */
  readonly timeoutMs?: number;
  /** ExecSync: bytes of each of stdout and stderr forwarded; the rest is read and dropped. */
  readonly outputLimit?: number;
}

/** The first line of every connection. */
export type Hello =
  | { readonly v: number; readonly id: string; readonly kind: "control" }
  | {
    readonly v: number;
    readonly id: string;
    readonly kind: "attach";
    readonly stdin: boolean;
    readonly stdout: boolean;
    readonly stderr: boolean;
  }
  | { readonly v: number; readonly id: string; readonly kind: "exec"; readonly exec: ExecSpec };

/** The shim's answer to a hello. `pid` is the exec'd process for an exec connection. */
export type HelloReply =
  | { readonly v: number; readonly ok: true; readonly shimPid: number; readonly pid?: number }
  | { readonly v: number; readonly ok: false; readonly error: WireError };

/** Frame types of attach and exec connections. */
export const FrameType = {
  /** client → shim: bytes for the process's stdin; empty: close stdin. */
  STDIN: 1,
  /** shim → client: stdout bytes (or the tty's output); empty: end of stdout. */
  STDOUT: 2,
  /** shim → client: stderr bytes; empty: end of stderr. */
  STDERR: 3,
  /** client → shim: a new terminal size, width then height as u16 BE. */
  RESIZE: 4,
  /** shim → client: the process ended; JSON `{ exitCode, timedOut? }`. */
  EXIT: 5,
} as const;

/** A frame type's value. */
export type FrameTypeValue = typeof FrameType[keyof typeof FrameType];

/** A decoded frame. */
export interface Frame {
  readonly type: number;
  readonly payload: Uint8Array;
}

/** The EXIT frame's payload. */
export interface ExitFrame {
  readonly exitCode: number;
  readonly timedOut?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one frame. */
export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + payload.byteLength);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, 5);
  return out;
}

/** Encodes a RESIZE frame. */
export function encodeResize(size: TerminalSize): Uint8Array {
  const p = new Uint8Array(4);
  const v = new DataView(p.buffer);
  v.setUint16(0, size.width);
  v.setUint16(2, size.height);
  return encodeFrame(FrameType.RESIZE, p);
}

/** Decodes a RESIZE payload; throws on a malformed one. */
export function decodeResize(payload: Uint8Array): TerminalSize {
  if (payload.byteLength !== 4) throw new Error(`resize frame of ${payload.byteLength} bytes`);
  const v = new DataView(payload.buffer, payload.byteOffset, 4);
  return { width: v.getUint16(0), height: v.getUint16(2) };
}

/** Encodes a JSON value as one line. */
export function encodeLine(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value) + "\n");
}

/** Encodes an EXIT frame. */
export function encodeExit(exit: ExitFrame): Uint8Array {
  return encodeFrame(FrameType.EXIT, encoder.encode(JSON.stringify(exit)));
}

/** Decodes an EXIT payload. */
export function decodeExit(payload: Uint8Array): ExitFrame {
  const v: unknown = JSON.parse(decoder.decode(payload));
  if (!isRecord(v) || typeof v.exitCode !== "number") throw new Error("malformed exit frame");
  return v.timedOut === true ? { exitCode: v.exitCode, timedOut: true } : { exitCode: v.exitCode };
}

/** True for a plain object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The bytes of a stream, read as lines or frames (a connection switches from one to the other). */
export class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #eof = false;

  /** Reads from `readable` (locks it). */
  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    const r = await this.#reader.read();
    if (r.done) {
      this.#eof = true;
      return false;
    }
    if (this.#buf.byteLength === 0) {
      this.#buf = r.value;
    } else {
      const joined = new Uint8Array(this.#buf.byteLength + r.value.byteLength);
      joined.set(this.#buf);
      joined.set(r.value, this.#buf.byteLength);
      this.#buf = joined;
    }
    return true;
  }

  /**
   * The next line without its newline; `null` at end of stream. Throws when a line exceeds
   * `max` bytes or the stream ends inside a line.
   */
  async readLine(max = MAX_LINE_BYTES): Promise<string | null> {
    let scanned = 0;
    for (;;) {
      const nl = this.#buf.indexOf(10, scanned);
      if (nl >= 0) {
        const line = decoder.decode(this.#buf.subarray(0, nl));
        this.#buf = this.#buf.subarray(nl + 1);
        return line;
      }
      scanned = this.#buf.byteLength;
      if (scanned > max) throw new Error(`line longer than ${max} bytes`);
      if (!(await this.#fill())) {
        if (this.#buf.byteLength === 0) return null;
        throw new Error("stream ended inside a line");
      }
    }
  }

  /** The next frame; `null` at a clean end of stream. */
  async readFrame(max = MAX_FRAME_BYTES): Promise<Frame | null> {
    while (this.#buf.byteLength < 5) {
      if (!(await this.#fill())) {
        if (this.#buf.byteLength === 0) return null;
        throw new Error("stream ended inside a frame header");
      }
    }
    const type = this.#buf[0]!;
    const len = new DataView(this.#buf.buffer, this.#buf.byteOffset, 5).getUint32(1);
    if (len > max) throw new Error(`frame of ${len} bytes exceeds ${max}`);
    while (this.#buf.byteLength < 5 + len) {
      if (!(await this.#fill())) throw new Error("stream ended inside a frame");
    }
    const payload = this.#buf.slice(5, 5 + len);
    this.#buf = this.#buf.subarray(5 + len);
    return { type, payload };
  }

  /** Stops reading (the underlying stream is cancelled). */
  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/** Anything with Deno's `write` contract (may write less than asked). */
export interface Writer {
  write(p: Uint8Array): Promise<number>;
}

/**
 * Writes in order, one at a time, and tells how many bytes wait: the shim drops a slow
 * attacher instead of blocking the container on it.
 */
export class SerialWriter {
  readonly #w: Writer;
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #failed: unknown = undefined;

  /** Serializes writes to `w`. */
  constructor(w: Writer) {
    this.#w = w;
  }

  /** Bytes accepted but not yet written. */
  get queued(): number {
    return this.#queued;
  }

  /** True once a write failed; later writes reject at once. */
  get failed(): boolean {
    return this.#failed !== undefined;
  }

  /** Queues `data`; resolves when it is written, rejects when a write failed. */
  write(data: Uint8Array): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    this.#queued += data.byteLength;
    const p = this.#tail.then(async () => {
      try {
        if (this.#failed !== undefined) throw this.#failed;
        let off = 0;
        while (off < data.byteLength) off += await this.#w.write(data.subarray(off));
      } catch (err) {
        this.#failed ??= err;
        throw err;
      } finally {
        this.#queued -= data.byteLength;
      }
    });
    this.#tail = p.catch(() => {});
    return p;
  }

  /** Resolves when everything queued so far is written (or failed). */
  flushed(): Promise<void> {
    return this.#tail;
  }
}
