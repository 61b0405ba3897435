/**
 * `sauropod serve` and `check` re-exec themselves under the Deno permissions computed from
 * the configuration (`app/permissions.ts`). The process keeps its pid (`execve`), its
 * environment, its standard streams and the Deno flags it was started with (`--config`,
 * `--cached-only`, `--quiet`…, read from `/proc/self/cmdline`); only its permission flags
 * are replaced, and {@link APPLIED_FLAG} tells the new image not to do it again.
 *
 * @module
 */
import { execve } from "../ffi/exec.ts";
import * as kernfs from "../ffi/kernfs.ts";
import { type AgentGrants, permissionFlags } from "./permissions.ts";

/** Added to the command line of the re-executed agent (hidden from `--help`). */
export const APPLIED_FLAG = "--permissions-from-config";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

/** Deno's permission flags (and prompting), which the computed ones replace. */
const PERMISSION_FLAG =
  /^(?:-A|-R|-W|-N|-E|-S|-P|--allow-[a-z-]+|--deny-[a-z-]+|--permission-set|--no-prompt)(?:=.*)?$/;

/**
 * The argv that runs this same command under `grants`: `cmdline` is this process's
 * (`/proc/self/cmdline`, split), `cwd` the directory it resolves relative paths against.
 */
export function reexecArgv(
  cmdline: readonly string[],
  cwd: string,
  grants: AgentGrants,
  deno: string,
): string[] {
  const script = cmdline.findIndex((t, i) => i > 0 && scriptPath(t, cwd) === MAIN_TS);
  if (script < 0) {
    throw new Error(`cannot find ${MAIN_TS} in this process's command line ${cmdline.join(" ")}`);
  }
  const denoFlags = cmdline.slice(1, script).filter((t) => !PERMISSION_FLAG.test(t));
  return [
    deno,
    ...denoFlags,
    ...permissionFlags(grants),
    "--no-prompt",
    MAIN_TS,
    ...cmdline.slice(script + 1),
    APPLIED_FLAG,
  ];
}

function scriptPath(token: string, cwd: string): string | undefined {
  if (token.startsWith("-")) return undefined;
  try {
    return new URL(token, `file://${cwd.replace(/\/?$/, "/")}`).pathname;
  } catch {
    return undefined;
  }
}

/** Replaces this process with itself under `grants`; returns only by throwing. */
export function reexec(grants: AgentGrants): never {
  const cmdline = kernfs.readTextFileSync("/proc/self/cmdline").split("\0");
  if (cmdline.at(-1) === "") cmdline.pop();
  const deno = Deno.execPath();
  const argv = reexecArgv(cmdline, Deno.cwd(), grants, deno);
  return execve(deno, argv);
}
