/**
 * The permission part of `sauropod check`, which runs under the permissions `serve` would
 * compute from the same config (`app/permissions.ts`): can the agent write the directories
 * the config names and run the OCI runtime and the CNI plugins the network config asks for?
 * A plugin installed outside `cni.bin_dirs` otherwise fails only later, at the first pod,
 * with Deno's `NotCapable`.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { messageOf } from "../errors/mod.ts";
import type { Finding } from "./finding.ts";
import { which } from "../lib/exec.ts";

const FIX = "the agent's permissions are computed from its config (app/permissions.ts): put " +
  "it in a directory the config names (cni.bin_dirs, runtime.pod_log_roots…)";

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

async function granted(desc: Deno.PermissionDescriptor): Promise<boolean> {
  return (await Deno.permissions.query(desc)).state === "granted";
}

/** The plugin types a network config runs directly (IPAM plugins are run by those). */
export function pluginTypes(conf: unknown): string[] {
  const c = conf as { type?: unknown; plugins?: unknown };
  const list = Array.isArray(c.plugins) ? c.plugins : [c];
  return [
    ...new Set(
      list.map((p) => (p as { type?: unknown }).type).filter((t): t is string =>
        typeof t === "string" && /^[\w.-]+$/.test(t)
      ),
    ),
  ];
}

/** Checks the agent's permissions against `config`. */
export async function checkPermissions(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  const dirs: Array<[string, string]> = [
    ["root", config.root],
    ["state", config.state],
    ["socket", dirname(config.socket)],
    ["runtime.root", config.runtime.root],
  ];
  const denied = [];
  for (const [key, dir] of dirs) {
    if (!(await granted({ name: "write", path: dir }))) denied.push(`${key} ${dir}`);
  }
  out.push(
    denied.length === 0
      ? {
        level: "ok",
        check: "perms",
        message: `the agent may write ${[...new Set(dirs.map(([, d]) => d))].join(", ")}`,
      }
      : {
        level: "fail",
        check: "perms",
        message: `outside the agent's computed write permission: ${denied.join(", ")}`,
        fix: FIX,
      },
  );

  const runtime = which(config.runtime.binary) ?? config.runtime.binary;
  if (!(await granted({ name: "run", command: runtime }))) {
    out.push({
      level: "fail",
      check: "perms",
      message: `the agent may not run the OCI runtime ${runtime}`,
      fix: FIX,
    });
  }
  out.push(...await cniPlugins(config));
  return out;
}

async function cniPlugins(config: Config): Promise<Finding[]> {
  let names: string[] = [];
  try {
    for await (const e of Deno.readDir(config.cni.confDir)) {
      if (e.isFile && /\.(conflist|conf|json)$/.test(e.name)) names.push(e.name);
    }
  } catch {
    return []; // the CNI check reports a missing directory
  }
  names = names.sort();
  if (names.length === 0) return [];
  const file = `${config.cni.confDir}/${names[0]}`;
  let types: string[];
  try {
    types = pluginTypes(JSON.parse(await Deno.readTextFile(file)));
  } catch (err) {
    return [{ level: "fail", check: "cni", message: `cannot read ${file}: ${messageOf(err)}` }];
  }
  const out: Finding[] = [];
  for (const type of types) {
    let path: string | undefined;
    for (const dir of config.cni.binDirs) {
      try {
        if ((await Deno.stat(`${dir}/${type}`)).isFile) {
          path = `${dir}/${type}`;
          break;
        }
      } catch {
        // not in this directory
      }
    }
    if (path === undefined) {
      out.push({
        level: "fail",
        check: "cni",
        message: `${file} uses the plugin "${type}", found in none of ${
          config.cni.binDirs.join(", ")
        }`,
        fix: "install the plugin, or fix cni.bin_dirs",
      });
    } else if (!(await granted({ name: "run", command: path }))) {
      out.push({
        level: "fail",
        check: "perms",
        message: `${file} uses the plugin ${path}, which the agent may not run`,
        fix: FIX,
      });
    }
  }
  return out;
}
