/**
 * The shim's socket: hellos, control calls, attach and exec connections.
 *
 * @module
 */
import { invalidArgument, kindOf, messageOf } from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { Container } from "./_container.ts";
import { ExecProcess } from "./_exec.ts";
import { FrameSession } from "./_session.ts";
import {
  ByteReader,
  type Calls,
  encodeLine,
  type Hello,
  type HelloReply,
  type Op,
  PROTOCOL_VERSION,
  type Request,
  type Response,
  SerialWriter,
  type WireError,
} from "../protocol.ts";
import { parseHello, parseRequest } from "./_validate.ts";
import { smallChunks } from "../../lib/io/small_chunks.ts";

/** A client must say hello within this long. */
const HELLO_TIMEOUT_MS = 10_000;

function wireError(err: unknown): WireError {
  return { kind: kindOf(err), message: messageOf(err) };
}

/** Serves one container over `<stateDir>/ctl`. */
export class ShimServer {
  readonly #listener: Deno.Listener;
  readonly #container: Container;
  readonly #log: Logger;
  readonly #conns = new Set<Deno.Conn>();
  #inflight = 0;
  #idle: (() => void)[] = [];
  #closing = false;

  /** Listens at `path`. */
  constructor(path: string, container: Container, logger: Logger) {
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#container = container;
    this.#log = logger;
  }

  /** Accepts connections until {@link close}. */
  async serve(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#handle(conn).catch((err) => this.#log.warn("connection failed", { err }))
          .finally(() => {
            this.#conns.delete(conn);
            try {
              conn.close();
            } catch {
              // already closed
            }
          });
      }
    } catch (err) {
      if (!this.#closing) throw err;
    }
  }

  /**
   * Stops accepting, lets calls in flight answer (at most `graceMs`), then closes every
   * connection.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    if (this.#inflight > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#idle.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, graceMs))),
      ]);
      clearTimeout(timer);
    }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    const reader = new ByteReader(smallChunks(conn));
    const writer = new SerialWriter(conn);
    let hello: Hello;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const line = await Promise.race([
        reader.readLine(),
        new Promise<never>((_, reject) =>
          timer = setTimeout(
            () => reject(invalidArgument("no hello within 10 s")),
            HELLO_TIMEOUT_MS,
          )
        ),
      ]);
      if (line === null) return;
      hello = parseHello(line);
      if (hello.v < 1 || hello.v > PROTOCOL_VERSION) {
        throw invalidArgument(
          `protocol version ${hello.v} is not supported (this shim speaks 1..${PROTOCOL_VERSION})`,
        );
      }
      if (hello.id !== this.#container.id) {
        throw invalidArgument(
          `this shim serves container "${this.#container.id}", not "${hello.id}"`,
        );
      }
    } catch (err) {
      const reply: HelloReply = { v: PROTOCOL_VERSION, ok: false, error: wireError(err) };
      await writer.write(encodeLine(reply)).catch(() => {});
      return;
    } finally {
      clearTimeout(timer);
    }
    const v = hello.v;
    switch (hello.kind) {
      case "control":
        await writer.write(encodeLine({ v, ok: true, shimPid: Deno.pid } satisfies HelloReply));
        await this.#control(reader, writer);
        return;
      case "attach": {
        const session = new FrameSession(conn, reader, {
          stdout: hello.stdout,
          stderr: hello.stderr,
          logger: this.#log,
        });
        try {
          this.#container.checkAttach(hello.stdin);
        } catch (err) {
          await writer.write(encodeLine({ v, ok: false, error: wireError(err) })).catch(() => {});
          session.close();
          return;
        }
        // Reply first: once subscribed, output frames follow on the same connection.
        await writer.write(encodeLine({ v, ok: true, shimPid: Deno.pid } satisfies HelloReply));
        try {
          this.#container.attach(session, hello.stdin);
        } catch (err) {
          // The container exited during the reply: the client sees the connection end.
          this.#log.debug("attach refused after hello", { err });
          session.close();
          return;
        }
        await new Promise<void>((r) => session.onClose(r));
        return;
      }
      case "exec": {
        let proc: ExecProcess;
        try {
          proc = await ExecProcess.start(this.#container.execContext(), hello.exec);
        } catch (err) {
          await writer.write(encodeLine({ v, ok: false, error: wireError(err) })).catch(() => {});
          return;
        }
        const session = new FrameSession(conn, reader, {
          stdout: true,
          stderr: !hello.exec.tty,
          backpressure: true,
          ...(hello.exec.outputLimit ? { outputLimit: hello.exec.outputLimit } : {}),
          logger: this.#log,
        });
        await writer.write(
          encodeLine({ v, ok: true, shimPid: Deno.pid, pid: proc.pid } satisfies HelloReply),
        ).catch(() => {});
        await proc.run(session);
        return;
      }
    }
  }

  async #control(reader: ByteReader, writer: SerialWriter): Promise<void> {
    const pending = new Set<Promise<void>>();
    for (;;) {
      let line: string | null;
      try {
        line = await reader.readLine();
      } catch (err) {
        this.#log.debug("control connection ended", { err });
        break;
      }
      if (line === null) break;
      let req: Request;
      try {
        req = parseRequest(line);
      } catch (err) {
        const seq = seqOf(line);
        await writer.write(encodeLine({ seq, ok: false, error: wireError(err) } satisfies Response))
          .catch(() => {});
        continue;
      }
      const p = this.#call(req, writer);
      pending.add(p);
      p.finally(() => pending.delete(p));
    }
    // Calls in flight still answer if they can; the connection is closed after them.
    await Promise.allSettled([...pending]);
  }

  async #call(req: Request, writer: SerialWriter): Promise<void> {
    this.#inflight++;
    try {
      let res: Response;
      try {
        const result = await this.#dispatch(req.op, req.params);
        res = { seq: req.seq, ok: true, result };
      } catch (err) {
        this.#log.debug("call failed", { op: req.op, err });
        res = { seq: req.seq, ok: false, error: wireError(err) };
      }
      await writer.write(encodeLine(res)).catch(() => {});
    } finally {
      if (--this.#inflight === 0) { for (const r of this.#idle.splice(0)) r(); }
    }
  }

  #dispatch<O extends Op>(op: O, params: Calls[O]["params"]): Promise<unknown> {
    const c = this.#container;
    // The params were validated for `op` by parseRequest.
    const p = params as Record<string, unknown>;
    switch (op) {
      case "create":
        return c.create(params as Calls["create"]["params"]);
      case "start":
        return c.start();
      case "kill":
        return c.kill(p.signal as number, p.all === true).then(() => ({}));
      case "state":
        return Promise.resolve().then(() => c.state());
      case "wait":
        return c.wait();
      case "resize":
        return Promise.resolve().then(() => {
          c.resize(params as Calls["resize"]["params"]);
          return {};
        });
      case "reopenLog":
        return Promise.resolve().then(() => {
          c.reopenLog();
          return {};
        });
      case "update":
        return c.update(p.resources).then(() => ({}));
      case "delete":
        return c.delete();
    }
    return Promise.reject(invalidArgument(`unknown op "${op}"`));
  }
}

function seqOf(line: string): number {
  try {
    const v = JSON.parse(line) as { seq?: unknown };
    return typeof v.seq === "number" ? v.seq : 0;
  } catch {
    return 0;
  }
}
