/**
 * The container process's command line and environment, merged from the image config and
 * the CRI container config exactly as Docker and containerd merge them.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** The parts of an OCI image config (`config` object of the image JSON) a spec needs. */
export interface ImageConfigFacts {
  /** `User`: `uid`, `name`, `uid:gid` or `name:group`; empty for root. */
  user: string;
  /** `Env`: `KEY=value` entries. */
  env: string[];
  /** `Entrypoint`. */
  entrypoint: string[];
  /** `Cmd`. */
  cmd: string[];
  /** `WorkingDir`; empty for `/`. */
  workingDir: string;
}

/** Docker's default `PATH`, used when neither the image nor the container sets one. */
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The argv of the container, by Docker's table (the Kubernetes "Define a command" page):
 *
 * | image entrypoint | image cmd | command | args      | runs              |
 * | ---------------- | --------- | ------- | --------- | ----------------- |
 * | [/ep-1]          | [foo bar] |         |           | [/ep-1 foo bar]   |
 * | [/ep-1]          | [foo bar] | [/ep-2] |           | [/ep-2]           |
 * | [/ep-1]          | [foo bar] |         | [zoo boo] | [/ep-1 zoo boo]   |
 * | [/ep-1]          | [foo bar] | [/ep-2] | [zoo boo] | [/ep-2 zoo boo]   |
 *
 * An image entrypoint of `[""]` means "no entrypoint" (Docker writes it for
 * `ENTRYPOINT []`, and containerd's WithProcessArgs skips it). An empty result is
 * invalid-argument.
 */
export function mergeArgs(
  image: Pick<ImageConfigFacts, "entrypoint" | "cmd">,
  command: readonly string[],
  args: readonly string[],
  field: string,
): string[] {
  let cmd = [...command];
  let rest = [...args];
  if (cmd.length === 0) {
    if (rest.length === 0) rest = [...image.cmd];
    const ep = image.entrypoint;
    if (!(ep.length === 1 && ep[0] === "")) cmd = [...ep];
  }
  const argv = [...cmd, ...rest];
  if (argv.length === 0) {
    throw invalidArgument(
      `${field}: no command specified (neither the config nor the image has one)`,
    );
  }
  return argv;
}

/**
 * Merges `overrides` into `base` by key, as containerd's replaceOrAppendEnvValues does: a
 * `KEY=value` replaces an earlier `KEY` in place or is appended; a bare `KEY` (no `=`)
 * removes it.
 */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [];
  const index = new Map<string, number>();
  for (const e of base) {
    const eq = e.indexOf("=");
    index.set(eq < 0 ? e : e.slice(0, eq), out.length);
    out.push(e);
  }
  for (const e of overrides) {
    const eq = e.indexOf("=");
    const key = eq < 0 ? e : e.slice(0, eq);
    const at = index.get(key);
    if (eq < 0) {
      if (at !== undefined) out[at] = undefined;
      continue;
    }
    if (at !== undefined && out[at] !== undefined) {
      out[at] = e;
    } else {
      index.set(key, out.length);
      out.push(e);
    }
  }
  return out.filter((e): e is string => e !== undefined);
}

/**
 * Checks a CRI environment variable the way runc will (it refuses an empty name, a name
 * with `=` and any NUL byte), so the caller hears about it with the field named instead of
 * from a failed container start.
 */
export function checkEnvVar(key: string, value: string, field: string): string {
  if (key === "") throw invalidArgument(`${field}.key: empty environment variable name`);
  if (key.includes("=")) {
    throw invalidArgument(`${field}.key: environment variable name "${key}" contains "="`);
  }
  if (key.includes("\0") || value.includes("\0")) {
    throw invalidArgument(`${field}: environment variable "${key}" contains a NUL byte`);
  }
  return `${key}=${value}`;
}
