/**
 * `execve(2)`: replaces the running Deno with another program, keeping the pid, the open
 * standard streams and the environment. `sauropod serve` uses it to restart itself under the
 * Deno permissions it computed from its configuration: the pid systemd watches (Type=notify,
 * NotifyAccess=main) stays the agent's, and no parent lingers to forward signals.
 *
 * @module
 */
import { check, cstring, openLibc } from "./_libc.ts";

const symbols = {
  /** int execve(const char *path, char *const argv[], char *const envp[]); */
  execve: { parameters: ["buffer", "buffer", "pointer"], result: "i32" },
  /** extern char **environ; */
  environ: { type: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

const libc = openLibc(symbols);

/**
 * Executes `path` with `argv` (argv[0] included) and this process's environment. Returns
 * only by throwing: on success the process image is gone.
 */
export function execve(path: string, argv: readonly string[]): never {
  const strings = argv.map(cstring);
  const vector = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => {
    vector[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
  });
  const lib = libc();
  const environ = lib.symbols.environ === null
    ? null
    : new Deno.UnsafePointerView(lib.symbols.environ).getPointer();
  check("execve", lib.symbols.execve(cstring(path), vector, environ), path);
  // strings must stay reachable until execve returns.
  void strings.length;
  throw new Error("execve returned");
}
