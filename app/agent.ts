/**
 * `sauropod serve`: the agent's lifecycle.
 *
 * Load and validate the config → refuse to start beside a live agent (a stale socket from a
 * crash is replaced) or in a world-writable socket directory → build the services → serve
 * the CRI socket (mode 0660) → tell systemd READY=1 → on SIGHUP reload what can change
 * without a restart (`reload.ts`) → on SIGTERM/SIGINT stop accepting,
 * let in-flight calls finish within the grace period, remove the socket, exit 0. Shims and
 * containers keep running: an agent restart never kills a workload.
 *
 * @module
 */
import { type Config, loadConfig, type Overrides } from "../config/mod.ts";
import { messageOf, SauropodError } from "../errors/mod.ts";
import { type Level, type LogFormat, Logger } from "../log/mod.ts";
import { VERSION } from "../version.ts";
import { buildServices, type Services } from "./services.ts";
import { prepareSocket, secureSocket } from "./socket.ts";
import { Reloader } from "./reload.ts";

/** How `serve` was invoked. */
export interface ServeOptions {
  configPath: string;
  configExplicit: boolean;
  overrides: Overrides;
}

/** Runs the agent until a stop signal; returns the exit code. */
export async function serve(opts: ServeOptions): Promise<number> {
  // SIGHUP reloads the configuration (app/reload.ts); its default action, ending the
  // process, must never apply, not even while the agent is starting.
  let reloader: Reloader | undefined;
  let hupWhileStarting = false;
  const onHup = () => {
    if (reloader) void reloader.reload();
    else hupWhileStarting = true;
  };
  Deno.addSignalListener("SIGHUP", onHup);
  try {
    return await serveUntilStopped(opts, (r) => {
      reloader = r;
      if (hupWhileStarting) void r.reload();
    });
  } finally {
    Deno.removeSignalListener("SIGHUP", onHup);
  }
}

async function serveUntilStopped(
  opts: ServeOptions,
  serving: (reloader: Reloader) => void,
): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig({
      path: opts.configPath,
      explicit: opts.configExplicit,
      overrides: opts.overrides,
    });
  } catch (err) {
    new Logger().error(`invalid configuration: ${messageOf(err)}`);
    return 1;
  }
  const log = new Logger({
    level: config.log.level as Level,
    format: config.log.format as LogFormat,
  });
  log.info("starting sauropod", {
    version: VERSION,
    socket: config.socket,
    root: config.root,
    state: config.state,
    runtime: config.runtime.binary,
    cgroupDriver: config.runtime.cgroupDriver,
    pid: Deno.pid,
  });

  let services: Services | undefined;
  try {
    await prepareSocket(config.socket, log);
    services = await buildServices(config, log);
    await services.server.listen(config.socket);
    await secureSocket(config.socket, config.socketGroup);
    await services.afterListen();
  } catch (err) {
    log.error(`cannot start: ${messageOf(err)}`, err instanceof SauropodError ? {} : { err });
    await services?.close().catch(() => {});
    return 1;
  }
  log.info("serving the CRI", { socket: config.socket });
  serving(
    new Reloader(
      { path: opts.configPath, explicit: opts.configExplicit, overrides: opts.overrides },
      config,
      log.with({ component: "config" }),
      services.appliers,
    ),
  );

  const stopped = Promise.withResolvers<string>();
  const onSignal = (sig: Deno.Signal) => () => stopped.resolve(sig);
  const handlers = (["SIGTERM", "SIGINT"] as const).map((sig) => {
    const h = onSignal(sig);
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  const signal = await stopped.promise;
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  // A second signal during shutdown means "now".
  const hurry = () => {
    log.warn("second signal: exiting without waiting for in-flight calls");
    Deno.exit(1);
  };
  Deno.addSignalListener("SIGINT", hurry);
  Deno.addSignalListener("SIGTERM", hurry);

  log.info("shutting down", { signal, graceSeconds: config.shutdownGraceSeconds });
  await services.beforeShutdown();
  await services.server.shutdown(config.shutdownGraceSeconds * 1000);
  await services.close();
  try {
    await Deno.remove(config.socket);
  } catch {
    // already gone
  }
  log.info("stopped");
  Deno.removeSignalListener("SIGINT", hurry);
  Deno.removeSignalListener("SIGTERM", hurry);
  return 0;
}
