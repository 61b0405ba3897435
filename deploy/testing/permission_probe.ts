// deno-lint-ignore-file no-console
/**
 * Tries actions under whatever permissions it was started with (`deno run -P=<set>`) and
 * prints what happened to each, one JSON array on stdout. Tests start it under the agent's
 * and the shim's sets to show what those sets refuse.
 *
 * A denied action never takes effect (Deno checks before the syscall); allowed paths in
 * production directories are only queried, so a probe leaves nothing behind.
 *
 * @module
 */
import * as kernfs from "../../ffi/kernfs.ts";

/** One thing to try. */
export type ProbeAction =
  | { do: "write"; path: string }
  | { do: "read"; path: string }
  | { do: "run"; cmd: string; args?: string[]; env?: Record<string, string> }
  | { do: "env"; name: string }
  | { do: "sys"; what: "hostname" | "osRelease" }
  | { do: "kill"; pid: number }
  | { do: "kernfs-read"; path: string }
  | { do: "query"; desc: Deno.PermissionDescriptor };

/** What happened: "ok", the state of a query, or the error's class name. */
export interface ProbeResult {
  action: ProbeAction;
  outcome: string;
}

function attempt(a: ProbeAction): string {
  try {
    switch (a.do) {
      case "write":
        Deno.writeTextFileSync(a.path, "probe");
        Deno.removeSync(a.path);
        return "ok";
      case "read":
        Deno.readTextFileSync(a.path);
        return "ok";
      case "run": {
        const out = new Deno.Command(a.cmd, {
          args: a.args ?? [],
          stdin: "null",
          stdout: "null",
          stderr: "null",
          ...(a.env ? { env: a.env } : {}),
        }).outputSync();
        return out.success ? "ok" : `exit ${out.code}`;
      }
      case "env":
        Deno.env.get(a.name);
        return "ok";
      case "sys":
        a.what === "hostname" ? Deno.hostname() : Deno.osRelease();
        return "ok";
      case "kill":
        Deno.kill(a.pid, "SIGCONT");
        return "ok";
      case "kernfs-read":
        kernfs.readTextFileSync(a.path);
        return "ok";
      case "query":
        return Deno.permissions.querySync(a.desc).state;
    }
  } catch (err) {
    return err instanceof Error ? err.constructor.name : String(err);
  }
}

if (import.meta.main) {
  const actions = JSON.parse(Deno.args[0] ?? "[]") as ProbeAction[];
  const results: ProbeResult[] = actions.map((action) => ({ action, outcome: attempt(action) }));
  console.log(JSON.stringify(results));
}
