/**
 * The console socket of a tty process: runc creates the pty inside the container and sends
 * its master here (`--console-socket`), as with containerd.
 *
 * @module
 */
import { FdPassingListener } from "../../ffi/socket.ts";
import { FdStream } from "../../ffi/fd.ts";
import { internal } from "../../errors/mod.ts";

/** A console socket waiting for one pty master. */
export class ConsoleSocket {
  readonly #listener: FdPassingListener;

  private constructor(listener: FdPassingListener) {
    this.#listener = listener;
  }

  /** Listens at `path` (removing a stale socket left by a crash). */
  static listen(path: string): ConsoleSocket {
    try {
      Deno.removeSync(path);
    } catch {
      // absent: the usual case
    }
    return new ConsoleSocket(FdPassingListener.listen(path));
  }

  /** The socket's path, for `--console-socket`. */
  get path(): string {
    return this.#listener.path;
  }

  /**
   * The pty master runc sent. Call after `runc create`/`runc exec` returned successfully:
   * runc's init sends the master before it signals readiness, so it is already queued.
   */
  receive(what: string): FdStream {
    const got = this.#listener.tryReceive();
    if (!got) throw internal(`the runtime sent no terminal for ${what}`);
    return new FdStream(got.fd);
  }

  /** Closes and removes the socket. */
  close(): void {
    this.#listener.close();
  }
}
