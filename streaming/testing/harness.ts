/**
 * Test scaffolding: a {@link StreamingServer} on an ephemeral loopback port in front of a
 * {@link LocalBackend}, torn down (sessions, processes, sockets) on dispose.
 *
 * @module
 */
import { closeFd } from "../../ffi/fd.ts";
import { getWindowSize } from "../../ffi/pty.ts";
import { Logger } from "../../log/mod.ts";
import { StreamingServer, type StreamingServerOptions } from "../server.ts";
import { LocalBackend, type LocalBackendOptions } from "./local_backend.ts";

/**
 * Loads the FFI bindings the tty tests use, outside any test: the resource sanitizer
 * counts a library first opened inside a test as a leak. Both calls fail harmlessly.
 */
export function preloadFfi(): void {
  closeFd(-1);
  try {
    getWindowSize(-1);
  } catch {
    // EBADF, expected.
  }
}

/** A running server and its backend. */
export interface Harness extends AsyncDisposable {
  readonly server: StreamingServer;
  readonly backend: LocalBackend;
  /** Log lines the server wrote (for assertions on what it reported). */
  readonly logs: string[];
}

/** Starts a server with a fresh local backend (a container "c1" running `cat`). */
export async function startHarness(
  opts: Partial<Omit<StreamingServerOptions, "backend" | "logger">> & LocalBackendOptions = {},
): Promise<Harness> {
  const backend = new LocalBackend(opts.dial ? { dial: opts.dial } : {});
  const logs: string[] = [];
  const server = new StreamingServer({
    address: "127.0.0.1",
    port: 0,
    tokenTtlMs: 60_000,
    idleTimeoutMs: 0,
    ...opts,
    backend,
    logger: new Logger({ level: "debug", sink: (l) => logs.push(l) }),
  });
  backend.startContainer("c1", ["cat"]);
  await server.start();
  return {
    server,
    backend,
    logs,
    async [Symbol.asyncDispose]() {
      await server.close();
      await backend.close();
    },
  };
}
