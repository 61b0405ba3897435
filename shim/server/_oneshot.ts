/**
 * The shim's one-shot commands, for the agent when no shim serves a container any more
 * (its shim died, the agent crashed while creating it, it is an orphan): the agent never
 * runs the OCI runtime itself, it starts the shim program for one call, as containerd runs
 * `<shim> -id … delete` (`core/runtime/v2/binary.go`).
 *
 *   main.ts shim delete --id <id> --state-dir <dir> --runtime-binary <path>
 *                       --runtime-root <dir> [--systemd-cgroup] [--timeout-ms 60000]
 *                       [--runtime-options <JSON list of the handler's global flags>]
 *   main.ts shim list --runtime-binary <path> --runtime-root <dir> [--timeout-ms 60000]
 *
 * `delete` force-deletes the container (killing it if it runs), logging runc's errors to
 * `<dir>/runc.log` and reading them as the shim does (`_runc.ts`): a container the runtime
 * does not know is already deleted. `list` prints the runtime's container ids, one a line.
 * A failure exits 1 with the error on stderr as one JSON line (`{kind, message}`).
 *
 * @module
 */
import { internal, invalidArgument, isNotFound, SauropodError } from "../../errors/mod.ts";
import { isContainerId, isRuntimeOption, type RuntimeSpec, type WireError } from "../protocol.ts";
import { Reaper } from "./_reaper.ts";
import { Runc } from "./_runc.ts";
import { nullLogger } from "../../log/mod.ts";

const FLAGS = [
  "id",
  "state-dir",
  "runtime-binary",
  "runtime-root",
  "systemd-cgroup",
  "timeout-ms",
  "runtime-options",
] as const;

function parse(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const m = args[i]!.match(/^--([a-z-]+)(?:=(.*))?$/);
    if (!m || !(FLAGS as readonly string[]).includes(m[1]!)) {
      throw invalidArgument(`unexpected argument "${args[i]}"`);
    }
    if (m[1] === "systemd-cgroup") {
      flags.set(m[1], "true");
      continue;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined) throw invalidArgument(`--${m[1]} needs a value`);
    flags.set(m[1]!, value);
  }
  return flags;
}

function runtimeOf(flags: Map<string, string>): RuntimeSpec {
  const binary = flags.get("runtime-binary") ?? "";
  const root = flags.get("runtime-root") ?? "";
  if (!binary.startsWith("/")) throw invalidArgument("--runtime-binary must be an absolute path");
  if (!root.startsWith("/")) throw invalidArgument("--runtime-root must be an absolute path");
  const timeout = Number(flags.get("timeout-ms") ?? "60000");
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw invalidArgument("--timeout-ms must be a positive integer");
  }
  let options: unknown = [];
  try {
    options = JSON.parse(flags.get("runtime-options") ?? "[]");
  } catch {
    // refused below
  }
  if (!Array.isArray(options) || options.length > 32 || !options.every(isRuntimeOption)) {
    throw invalidArgument("--runtime-options must be a JSON list of --flag[=value] strings");
  }
  return {
    binary,
    root,
    systemdCgroup: flags.get("systemd-cgroup") === "true",
    callTimeoutMs: timeout,
    ...(options.length ? { options } : {}),
  };
}

/** `runc delete --force <id>`; a container the runtime does not know is already gone. */
async function remove(flags: Map<string, string>): Promise<void> {
  const id = flags.get("id") ?? "";
  if (!isContainerId(id)) throw invalidArgument(`--id must be a container id, got "${id}"`);
  const stateDir = flags.get("state-dir") ?? "";
  if (!stateDir.startsWith("/")) throw invalidArgument("--state-dir must be an absolute path");
  const runc = new Runc({
    spec: runtimeOf(flags),
    id,
    stateDir,
    reaper: new Reaper(),
    logger: nullLogger,
  });
  try {
    await runc.run("delete", ["--force", id]);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** `runc list -q`: the ids of the runtime's containers under its root. */
async function list(flags: Map<string, string>): Promise<string> {
  const rt = runtimeOf(flags);
  const out = await new Deno.Command(rt.binary, {
    args: ["--root", rt.root, ...(rt.options ?? []), "list", "-q"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(rt.callTimeoutMs),
  }).output();
  if (!out.success) {
    throw internal(`runtime call "list" failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Runs `delete` or `list`; resolves to the exit code. */
export async function oneShotMain(op: "delete" | "list", args: string[]): Promise<number> {
  try {
    const flags = parse(args);
    if (op === "delete") await remove(flags);
    else {
      const out = new TextEncoder().encode(await list(flags));
      for (let off = 0; off < out.byteLength;) off += Deno.stdout.writeSync(out.subarray(off));
    }
    return 0;
  } catch (err) {
    const wire: WireError = err instanceof SauropodError
      ? { kind: err.kind, message: err.message }
      : { kind: "internal", message: err instanceof Error ? err.message : String(err) };
    Deno.stderr.writeSync(new TextEncoder().encode(JSON.stringify(wire) + "\n"));
    return 1;
  }
}
