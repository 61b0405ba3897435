/**
 * The public shapes of the shim client (the shapes the shim shares are `shim/protocol.ts`'s).
 *
 * @module
 */
import type { RuntimeSpec, StdioSession, TerminalSize } from "../protocol.ts";

export type { RuntimeSpec, StdioSession, TerminalSize };

/** What a new shim creates. */
export interface ShimCreateOptions {
  /** The container id (also the runc id). */
  id: string;
  /** The OCI bundle directory. */
  bundle: string;
  runtime: RuntimeSpec;
  /** The CRI log file; absent: output is discarded (attach still sees it). */
  logPath?: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  /**
   * Settles when the bundle (config.json, rootfs) is in place. The shim is spawned and
   * connected meanwhile, and `runc create` waits for it: the process start overlaps the
   * caller's mount and spec work. A rejection aborts the create (and undoes the shim).
   */
  bundleReady?: Promise<unknown>;
}

/** How a container ended. */
export interface ExitRecord {
  /** The exit code, or 128 + the signal that killed it (255 when unknown). */
  exitCode: number;
  /** When, in nanoseconds since the epoch. */
  exitedAtNs: bigint;
  /** The kernel OOM-killed a process of the container's memory cgroup. */
  oomKilled: boolean;
  /** The signal that killed the init, when one did. */
  signal?: number;
  /** Set when the exit was not observed, e.g. "shim exited unexpectedly". */
  reason?: string;
}

/** What `execSync` runs. */
export interface ExecSyncOptions {
  args: string[];
  env?: string[];
  cwd?: string;
  tty?: boolean;
  /** Kill the process after this long and report `timedOut`. */
  timeoutMs?: number;
  /** Bytes kept of each of stdout and stderr (default 16 MiB); the rest is dropped. */
  outputLimit?: number;
  /** Aborting kills the process and rejects with canceled. */
  signal?: AbortSignal;
}

/** What `execSync` returns. */
export interface ExecSyncResult {
  exitCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  timedOut: boolean;
}

/** A streaming exec's command. */
export interface ExecOptions {
  args: string[];
  tty: boolean;
  stdin: boolean;
  env?: string[];
  cwd?: string;
}

/** The container's state as its shim reports it. */
export interface ShimState {
  status: "created" | "running" | "stopped";
  pid: number;
  exit?: ExitRecord;
}

/** A connection to one container's shim. */
/** Where a shim create's time went, for the create's log line. */
export interface CreateTimings {
  /** The shim was started ahead (a spare) rather than for this create. */
  readonly spare: boolean;
  /** From the create call until the shim's socket answered (its start, unless spare). */
  readonly shimConnectMs: number;
  /** Then waiting for the bundle (rootfs mount, spec) the runtime prepares meanwhile. */
  readonly bundleWaitMs: number;
  /** Then the shim's `create` call: `runc create` and what the shim does around it. */
  readonly runcCreateMs: number;
}

/** A container's shim, as the runtime drives it. */
export interface ShimHandle {
  readonly id: string;
  /** The container's init pid. */
  readonly initPid: number;
  /** The shim's pid. */
  readonly shimPid: number;
  /** How the create that made this handle went (absent on a handle found again). */
  readonly createTimings?: CreateTimings;
  /** `runc start`; when, by the shim's clock (the one its exit time comes from). */
  start(): Promise<{ startedAtNs: bigint }>;
  /** `runc kill`; not-found once the container has exited (unless `all`). */
  kill(signal: number, all?: boolean): Promise<void>;
  state(): Promise<ShimState>;
  /** Resolves when the container exits — or when the shim dies (then `reason` says so). */
  wait(): Promise<ExitRecord>;
  execSync(opts: ExecSyncOptions): Promise<ExecSyncResult>;
  exec(opts: ExecOptions): Promise<StdioSession>;
  attach(opts: { stdin: boolean; stdout: boolean; stderr: boolean }): Promise<StdioSession>;
  /** Resizes the container's own tty. */
  resize(size: TerminalSize): Promise<void>;
  reopenLog(): Promise<void>;
  /** `runc update` with OCI LinuxResources. */
  update(resources: unknown): Promise<void>;
  /** `runc delete` (force if still running); the shim exits; the state dir is removed. */
  delete(): Promise<void>;
  /** Drops the connection; the shim keeps running. */
  close(): void;
}
