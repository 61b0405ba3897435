/**
 * The CRI client of `--client process`: every unary call is a new process
 * (`bench/cri_call.ts`) with its own connection, as each `crictl` command is. The bench
 * builds and encodes the request and decodes the response, so both runtimes are called
 * with the same bytes and pay the same per-call start; {@link clientStartMs} times that
 * start alone (the script run with `--noop`) so ratios can be read with and without it.
 *
 * Server-streaming calls are not made this way (crictl's `events` is one long process);
 * they answer UNIMPLEMENTED, which the runner reports as skipped.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { ImageServiceDefinition, RuntimeServiceDefinition } from "../api/gen/api.ts";
import {
  type CallOptions,
  CriError,
  type ImageClient,
  type RuntimeClient,
} from "../tests/harness/cri_client.ts";

/** What workloads call: the in-process `CriClient` or this one. */
export interface CriCalls {
  readonly runtime: RuntimeClient;
  readonly image: ImageClient;
  close(): void;
}

const SCRIPT = new URL("./cri_call.ts", import.meta.url).pathname;

/** How the per-call process is started (same for both runtimes). */
export function clientArgv(socket: string, path: string, timeoutMs: number): string[] {
  return [
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-net",
    SCRIPT,
    socket,
    path,
    String(Math.ceil(timeoutMs / 1000)),
  ];
}

interface Method {
  readonly name: string;
  readonly requestType: {
    encode(msg: never): { finish(): Uint8Array };
    fromPartial(obj: never): unknown;
  };
  readonly responseType: { decode(input: Uint8Array): unknown };
  readonly responseStream: boolean;
}

/** Runs one call in a new process; resolves with the response bytes. */
export async function callInProcess(
  socket: string,
  path: string,
  request: Uint8Array,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const child = new Deno.Command(Deno.execPath(), {
    args: clientArgv(socket, path, timeoutMs),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    ...(signal ? { signal } : {}),
    env: { NO_COLOR: "1" },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(request);
  await w.close();
  const out = await child.output();
  if (out.code === 0) return out.stdout;
  const err = new TextDecoder().decode(out.stderr).trim();
  const m = out.code === 3 ? /^(\d+) ([\s\S]*)$/.exec(err) : null;
  if (m) throw new CriError(path, Number(m[1]) as grpc.status, m[2]!);
  throw new CriError(path, grpc.status.UNKNOWN, `client process exited ${out.code}: ${err}`);
}

/** Milliseconds from spawning the client process until it exits, with no call made. */
export async function clientStartMs(): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: clientArgv("--noop", "", 1000),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  if (out.code !== 0) throw new Error(`the client script exited ${out.code} on --noop`);
  return performance.now() - t0;
}

/** A CRI client that makes every call in a new process. */
export class ProcessCriClient implements CriCalls {
  readonly runtime: RuntimeClient;
  readonly image: ImageClient;
  readonly #socket: string;
  readonly #timeoutMs: number;

  /** Calls go to the CRI socket at `socket`. */
  constructor(socket: string, timeoutMs = 60_000) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.runtime = this.#service(RuntimeServiceDefinition) as unknown as RuntimeClient;
    this.image = this.#service(ImageServiceDefinition) as unknown as ImageClient;
  }

  /** Nothing to close: each call's connection ends with its process. */
  close(): void {}

  #service(def: { fullName: string; methods: Readonly<Record<string, Method>> }) {
    const out: Record<string, unknown> = {};
    for (const [key, m] of Object.entries(def.methods)) {
      const path = `/${def.fullName}/${m.name}`;
      out[key] = m.responseStream
        ? () => {
          throw new CriError(path, grpc.status.UNIMPLEMENTED, "streams are not made per process");
        }
        : async (req?: unknown, opts: CallOptions = {}) => {
          const msg = m.requestType.fromPartial((req ?? {}) as never);
          const bytes = m.requestType.encode(msg as never).finish();
          const res = await callInProcess(
            this.#socket,
            path,
            bytes,
            opts.timeoutMs ?? this.#timeoutMs,
            opts.signal,
          );
          return m.responseType.decode(res);
        };
    }
    return out;
  }
}
