/**
 * Pseudo-terminals: window size (`ioctl(TIOCSWINSZ)`/`TIOCGWINSZ`) and `openpty(3)`.
 *
 * A container's pty is created by runc inside the container and handed over through the
 * console socket (`socket.ts`); the shim only resizes it. {@link openPty} exists for the
 * tests and tools that need a pty of their own.
 *
 * @module
 */
import { check, errno, openLibc } from "./_libc.ts";

const symbols = {
  /** int ioctl(int fd, unsigned long request, struct winsize *ws); (variadic) */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** int openpty(int *amaster, int *aslave, char *name, const struct termios *termp, const struct winsize *winp); */
  openpty: { parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);
// Opened at import when FFI is granted (as ffi/kernfs.ts does): a lazy open would be charged
// by Deno's resource sanitizer to whichever test first calls in.
if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
  libc();
  errno(); // and the errno helpers every error message uses
}

// asm-generic values, shared by x86_64 and aarch64.
const TIOCGWINSZ = 0x5413n;
const TIOCSWINSZ = 0x5414n;

/** A terminal size in character cells. */
export interface WindowSize {
  /** Columns (CRI `width`). */
  readonly cols: number;
  /** Rows (CRI `height`). */
  readonly rows: number;
}

function checkSize(n: number, field: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new RangeError(`terminal ${field} must be an integer in 0..65535, got ${n}`);
  }
}

/** Sets the window size of the terminal `fd` (the kernel then sends SIGWINCH to its group). */
export function setWindowSize(fd: number, size: WindowSize): void {
  checkSize(size.cols, "width");
  checkSize(size.rows, "height");
  const ws = new Uint16Array([size.rows, size.cols, 0, 0]);
  check("ioctl(TIOCSWINSZ)", libc().symbols.ioctl(fd, TIOCSWINSZ, ws), String(fd));
}

/** Reads the window size of the terminal `fd`. */
export function getWindowSize(fd: number): WindowSize {
  const ws = new Uint16Array(4);
  check("ioctl(TIOCGWINSZ)", libc().symbols.ioctl(fd, TIOCGWINSZ, ws), String(fd));
  return { rows: ws[0]!, cols: ws[1]! };
}

/** Opens a new pty pair; the caller owns (and must close) both fds. */
export function openPty(): { master: number; slave: number } {
  const master = new Int32Array(1);
  const slave = new Int32Array(1);
  check("openpty", libc().symbols.openpty(master, slave, null, null, null));
  return { master: master[0]!, slave: slave[0]! };
}
