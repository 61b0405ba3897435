// deno-lint-ignore-file no-console
/**
 * The command line: `serve`, `version`, `check` and the reserved `shim`.
 *
 * Flags override the config file, which overrides the built-in defaults; the flags map to
 * dotted config keys in {@link flagOverrides}. Heavy modules are imported inside the
 * actions so `version` and `--help` stay instant.
 *
 * @module
 */
import { Command, Option } from "commander";
import { CRI_API_VERSION, RUNTIME_NAME, VERSION } from "../version.ts";
import type { Overrides } from "../config/mod.ts";

/** Marks the agent re-executed under its computed permissions (app/reexec.ts). */
const APPLIED_FLAG = "--permissions-from-config";

/** Options shared by `serve` and `check`. */
export interface DirOptions {
  config?: string;
  socket?: string;
  root?: string;
  state?: string;
  runtime?: string;
  cgroupDriver?: string;
  logLevel?: string;
  logFormat?: string;
}

/** Maps parsed flags onto dotted config keys. */
export function flagOverrides(o: DirOptions): Overrides {
  return {
    socket: o.socket,
    root: o.root,
    state: o.state,
    "runtime.binary": o.runtime,
    "runtime.cgroup_driver": o.cgroupDriver,
    "log.level": o.logLevel,
    "log.format": o.logFormat,
  };
}

function dirOptions(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "config file (TOML)", "/etc/sauropod/config.toml")
    .option("--socket <path>", "CRI socket path (default /run/sauropod/sauropod.sock)")
    .option("--root <dir>", "persistent state directory (default /var/lib/sauropod)")
    .option("--state <dir>", "volatile state directory (default /run/sauropod)")
    .option("--runtime <binary>", "OCI runtime binary: runc or crun (default runc)")
    .addOption(
      new Option("--cgroup-driver <driver>", "cgroup driver (default cgroupfs)").choices([
        "cgroupfs",
        "systemd",
      ]),
    )
    .addOption(
      new Option("--log-level <level>", "lowest log level written (default info)").choices([
        "debug",
        "info",
        "warn",
        "error",
      ]),
    )
    .addOption(
      new Option("--log-format <format>", "log line format (default text)").choices([
        "text",
        "json",
      ]),
    );
}

/** Builds the commander program; `exitCode` receives the status of the action that ran. */
export function buildProgram(result: { exitCode: number }): Command {
  const program = new Command()
    .name("sauropod")
    .description(
      "A Kubernetes CRI node agent: serves runtime.v1 on a unix socket so crictl and the\n" +
        "kubelet can run pods, with one shim per container that outlives the agent.",
    )
    .version(VERSION, "-v, --version", "print the version")
    .showHelpAfterError()
    .exitOverride();

  dirOptions(
    program.command("serve")
      .description(
        "run the agent: serve the CRI on its socket until SIGTERM/SIGINT.\n" +
          "Flags override the config file, which overrides the built-in defaults.",
      ),
  ).addOption(new Option(APPLIED_FLAG).hideHelp()).action(
    async (opts: DirOptions & { permissionsFromConfig?: boolean }) => {
      const load = {
        configPath: opts.config ?? "/etc/sauropod/config.toml",
        configExplicit: program.commands.find((c) => c.name() === "serve")
          ?.getOptionValueSource("config") === "cli",
        overrides: flagOverrides(opts),
      };
      if (!opts.permissionsFromConfig) {
        const { underConfiguredPermissions } = await import("./launch.ts");
        result.exitCode = await underConfiguredPermissions(load, "serve") ?? 1;
        return;
      }
      const { serve } = await import("./agent.ts");
      result.exitCode = await serve(load);
    },
  );

  program.command("version")
    .description("print the version of sauropod and of the CRI it serves")
    .option("--json", "print as JSON")
    .action((opts: { json?: boolean }) => {
      const info = { name: RUNTIME_NAME, version: VERSION, criApi: CRI_API_VERSION };
      console.log(
        opts.json
          ? JSON.stringify(info)
          : `${RUNTIME_NAME} ${VERSION} (CRI ${CRI_API_VERSION}, Deno ${Deno.version.deno})`,
      );
      result.exitCode = 0;
    });

  dirOptions(
    program.command("check")
      .description(
        "preflight: is this node ready to run the agent? Checks the runtime binary, the cgroup\n" +
          "layout, CNI, directories and permissions; prints one line per problem with its fix.\n" +
          "Exit code 0 when ready, 1 when not.",
      ),
  ).option("--json", "print the results as JSON")
    .addOption(new Option(APPLIED_FLAG).hideHelp())
    .action(
      async (opts: DirOptions & { json?: boolean; permissionsFromConfig?: boolean }) => {
        const load = {
          configPath: opts.config ?? "/etc/sauropod/config.toml",
          configExplicit: program.commands.find((c) => c.name() === "check")
            ?.getOptionValueSource("config") === "cli",
          overrides: flagOverrides(opts),
        };
        if (!opts.permissionsFromConfig) {
          // A config that does not load is reported by the check itself, as it stands.
          const { underConfiguredPermissions } = await import("./launch.ts");
          const code = await underConfiguredPermissions(load, "check");
          if (code !== undefined) {
            result.exitCode = code;
            return;
          }
        }
        const { runCheck } = await import("./check.ts");
        result.exitCode = await runCheck({ ...load, json: opts.json ?? false });
      },
    );

  program.command("shim")
    .description(
      "reserved: the per-container shim, started by the agent (never by hand).\n" +
        "Dispatched by main.ts before anything else is loaded.",
    )
    .allowUnknownOption()
    .action(() => {
      console.error("sauropod shim is started by the agent, not by hand");
      result.exitCode = 2;
    });

  return program;
}

/** Runs the CLI with `args` and returns the process exit code. */
export async function runCli(args: string[]): Promise<number> {
  const result = { exitCode: 0 };
  const program = buildProgram(result);
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (err) {
    // commander throws on --help/--version (code 0) and on usage errors (already printed).
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.exitCode === "number" && e.code?.startsWith("commander.")) return e.exitCode;
    console.error(`sauropod: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (args.length === 0) {
    program.outputHelp();
    return 2;
  }
  return result.exitCode;
}
