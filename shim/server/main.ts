/**
 * The shim process: one per container, started detached by the agent, outliving it.
 *
 *   main.ts shim --id <container-id> --state-dir <dir> [--log-level info]
 *                [--bootstrap-timeout-ms 60000]
 *   main.ts shim delete|list …   one runtime call for the agent (see `_oneshot.ts`)
 *
 * It becomes child subreaper, listens on `<dir>/ctl`, writes `<dir>/shim.pid`, and
 * serves its container until the container is deleted; then it exits. A shim that is not
 * asked to create its container within the bootstrap timeout exits too (its agent died
 * while starting it). Its own log goes to `<dir>/shim.log` as JSON lines.
 *
 * Imports stay minimal: this module graph is loaded once per container.
 *
 * @module
 */
import { type Level, Logger, parseLevel, type Sink } from "../../log/mod.ts";
import { Container } from "./_container.ts";
import { Reaper } from "./_reaper.ts";
import { oneShotMain } from "./_oneshot.ts";
import { ShimServer } from "./_server.ts";
import { isContainerId, PID_FILE, SHIM_LOG_FILE, SOCKET_FILE } from "../protocol.ts";
import { atomicWriteSync } from "../../lib/fs.ts";

interface ShimArgs {
  id: string;
  stateDir: string;
  level: Level;
  bootstrapTimeoutMs: number;
}

function parseArgs(args: string[]): ShimArgs {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = a.match(/^--([a-z-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`unexpected argument "${a}"`);
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new Error(`--${m[1]} needs a value`);
    flags.set(m[1]!, value);
  }
  for (const k of flags.keys()) {
    if (!["id", "state-dir", "log-level", "bootstrap-timeout-ms"].includes(k)) {
      throw new Error(`unknown flag --${k}`);
    }
  }
  const id = flags.get("id");
  if (!id || !isContainerId(id)) throw new Error(`--id must be a container id, got "${id ?? ""}"`);
  const stateDir = flags.get("state-dir");
  if (!stateDir?.startsWith("/")) throw new Error("--state-dir must be an absolute path");
  const timeout = Number(flags.get("bootstrap-timeout-ms") ?? "60000");
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new Error("--bootstrap-timeout-ms must be a positive integer");
  }
  return {
    id,
    stateDir: stateDir.replace(/\/+$/, ""),
    level: parseLevel(flags.get("log-level") ?? "info"),
    bootstrapTimeoutMs: timeout,
  };
}

/** A sink appending to the shim's log file (synchronous: lines survive a crash); root's only. */
function fileSink(path: string): Sink {
  const file = Deno.openSync(path, { write: true, append: true, create: true, mode: 0o600 });
  const enc = new TextEncoder();
  return (line) => {
    try {
      file.writeSync(enc.encode(line + "\n"));
    } catch {
      // A full disk must not take the container down with it.
    }
  };
}

/** Runs the shim; resolves to the process exit code. */
export async function shimMain(args: string[]): Promise<number> {
  if (args[0] === "delete" || args[0] === "list") return await oneShotMain(args[0], args.slice(1));
  let opts: ShimArgs;
  try {
    opts = parseArgs(args);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    Deno.stderr.writeSync(new TextEncoder().encode(`sauropod shim: ${msg}\n`));
    return 2;
  }
  const logger = new Logger({
    level: opts.level,
    format: "json",
    sink: fileSink(`${opts.stateDir}/${SHIM_LOG_FILE}`),
    fields: { containerId: opts.id },
  });
  // A stray rejection must not kill the shim (and orphan its container): log it instead.
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    logger.error("unhandled rejection", { err: e.reason });
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    logger.error("uncaught error", { err: e.error });
  });

  try {
    const reaper = new Reaper({ logger });
    reaper.start();
    const container = new Container({
      id: opts.id,
      stateDir: opts.stateDir,
      reaper,
      logger,
    });
    const socketPath = `${opts.stateDir}/${SOCKET_FILE}`;
    try {
      Deno.removeSync(socketPath); // a stale socket of a crashed predecessor
    } catch {
      // absent
    }
    const server = new ShimServer(socketPath, container, logger);
    const gone = new Promise<string>((resolve) => {
      container.onGone(() => resolve("container deleted"));
      setTimeout(() => {
        if (!container.createRequested) resolve("no create request within the bootstrap timeout");
      }, opts.bootstrapTimeoutMs);
    });
    const serving = server.serve();
    atomicWriteSync(`${opts.stateDir}/${PID_FILE}`, `${Deno.pid}\n`);
    logger.info("shim started", { pid: Deno.pid });
    const why = await gone;
    logger.info("shim exiting", { why });
    await server.close();
    await serving;
    reaper.stop();
    return 0;
  } catch (err) {
    logger.error("shim failed", { err });
    return 1;
  }
}

if (import.meta.main) {
  // Run directly (`deno run shim/server/main.ts [shim] --id …`), the same as through main.ts.
  const args = Deno.args[0] === "shim" ? Deno.args.slice(1) : Deno.args;
  Deno.exit(await shimMain(args));
}
