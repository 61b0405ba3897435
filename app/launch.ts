/**
 * The first step of `sauropod serve` and `check`: load the configuration, compute the
 * agent's Deno permissions from it and re-exec under exactly those (`app/permissions.ts`,
 * `app/reexec.ts`).
 *
 * @module
 */
import { loadConfig, type Overrides } from "../config/mod.ts";
import { messageOf } from "../errors/mod.ts";
import { which } from "../lib/exec.ts";
import { Logger } from "../log/mod.ts";
import { agentGrants, hostFacts } from "./permissions.ts";
import { reexec } from "./reexec.ts";

/** How the command was invoked. */
export interface LaunchOptions {
  configPath: string;
  configExplicit: boolean;
  overrides: Overrides;
}

/**
 * Re-execs under the permissions `opts`' configuration calls for; returns only when it
 * cannot: `serve` then exits 1 with the reason logged, `check` (undefined) goes on and
 * reports it.
 */
export async function underConfiguredPermissions(
  opts: LaunchOptions,
  command: "serve" | "check",
): Promise<number | undefined> {
  const log = new Logger();
  let grants;
  try {
    const config = await loadConfig({
      path: opts.configPath,
      explicit: opts.configExplicit,
      overrides: opts.overrides,
    });
    grants = agentGrants(config, hostFacts(which));
  } catch (err) {
    if (command === "check") return undefined;
    log.error(`invalid configuration: ${messageOf(err)}`);
    return 1;
  }
  try {
    reexec(grants);
  } catch (err) {
    log.error(`cannot restart under the configured permissions: ${messageOf(err)}`);
    return 1;
  }
}
