// deno-lint-ignore-file no-console
/**
 * `sauropod check`: is this node ready to run the agent? One line per check; each problem
 * says how to fix it. Exit code 0 when nothing failed (warnings allowed), 1 otherwise.
 *
 * @module
 */
import { type Config, loadConfigWithSources, type Overrides } from "../config/mod.ts";
import { effectiveConfig, type EffectiveEntry, formatEffective } from "../config/effective.ts";
import { messageOf } from "../errors/mod.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";
import { probeRuntimeBinary } from "./probe.ts";
import { which } from "../lib/exec.ts";
import { checkCgroups } from "./check_cgroups.ts";
import type { Finding } from "./finding.ts";
import { checkPermissions } from "./check_permissions.ts";
import { checkLsm } from "./check_lsm.ts";

export type { Finding } from "./finding.ts";

/** How `check` was invoked. */
export interface CheckOptions {
  configPath: string;
  configExplicit: boolean;
  overrides: Overrides;
  json: boolean;
}

/** Runs every check against `config`. */
export async function checks(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  const add = (f: Finding) => out.push(f);

  add(
    Deno.uid() === 0 ? { level: "ok", check: "user", message: "running as root" } : {
      level: "fail",
      check: "user",
      message: `running as uid ${Deno.uid()}: the agent needs root (mounts, namespaces, cgroups)`,
      fix: "run as root (the systemd unit does)",
    },
  );

  const rt = await probeRuntimeBinary(config.runtime.binary);
  add({
    level: rt.ok ? "ok" : "fail",
    check: "runtime",
    message: rt.message,
    ...(rt.fix ? { fix: rt.fix } : {}),
  });

  out.push(...(await checkCgroups(config)));
  out.push(...(await checkLsm()));

  try {
    const fs = await kernfs.readTextFile("/proc/filesystems");
    add(
      /\boverlay\b/.test(fs)
        ? { level: "ok", check: "overlayfs", message: "overlay filesystem available" }
        : {
          level: "fail",
          check: "overlayfs",
          message: "the kernel does not list overlay in /proc/filesystems",
          fix: "modprobe overlay",
        },
    );
  } catch (err) {
    add({
      level: "warn",
      check: "overlayfs",
      message: `cannot read /proc/filesystems: ${messageOf(err)}`,
    });
  }

  for (const [name, dir] of [["root", config.root], ["state", config.state]] as const) {
    add(await writableDir(name, dir));
  }
  add(await socketDir(config.socket));
  out.push(...(await cni(config)));
  out.push(...(await checkPermissions(config)));

  for (const tool of ["unshare", "nsenter", "mount", "umount"]) {
    const p = which(tool);
    add(
      p ? { level: "ok", check: "tools", message: `${tool}: ${p}` } : {
        level: "fail",
        check: "tools",
        message: `${tool} not found`,
        fix: "apt-get install -y util-linux mount",
      },
    );
  }
  return out;
}

async function writableDir(name: string, dir: string): Promise<Finding> {
  try {
    const st = await Deno.stat(dir);
    if (!st.isDirectory) {
      return {
        level: "fail",
        check: name,
        message: `${dir} is not a directory`,
        fix: `remove ${dir}`,
      };
    }
    const probe = `${dir}/.sauropod-check-${Deno.pid}`;
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
    return { level: "ok", check: name, message: `${dir} is writable` };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { level: "ok", check: name, message: `${dir} will be created at start` };
    }
    return {
      level: "fail",
      check: name,
      message: `${dir} is not writable: ${messageOf(err)}`,
      fix: `check the permissions of ${dir}`,
    };
  }
}

async function socketDir(socket: string): Promise<Finding> {
  const dir = socket.slice(0, socket.lastIndexOf("/")) || "/";
  try {
    const st = await Deno.stat(dir);
    if (st.mode !== null && (st.mode & 0o002) !== 0) {
      return {
        level: "fail",
        check: "socket",
        message: `socket directory ${dir} is world-writable`,
        fix: `chmod o-w ${dir}`,
      };
    }
    return { level: "ok", check: "socket", message: `socket ${socket} (directory ${dir} ok)` };
  } catch {
    return { level: "ok", check: "socket", message: `socket directory ${dir} will be created` };
  }
}

async function cni(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  let confs: string[] = [];
  try {
    for await (const e of Deno.readDir(config.cni.confDir)) {
      if (/\.(conflist|conf|json)$/.test(e.name)) confs.push(e.name);
    }
    confs = confs.sort();
  } catch {
    // reported below
  }
  out.push(
    confs.length
      ? { level: "ok", check: "cni", message: `network config ${config.cni.confDir}/${confs[0]}` }
      : {
        level: "warn",
        check: "cni",
        message: `no CNI network config in ${config.cni.confDir}: pods get no network ` +
          `(NetworkReady=false) until one appears`,
        fix: `install deploy/cni/10-sauropod.conflist into ${config.cni.confDir}`,
      },
  );
  let plugins = 0;
  for (const dir of config.cni.binDirs) {
    try {
      for await (const _ of Deno.readDir(dir)) plugins++;
    } catch {
      // missing dir
    }
  }
  out.push(
    plugins
      ? {
        level: "ok",
        check: "cni",
        message: `${plugins} CNI plugins in ${config.cni.binDirs.join(", ")}`,
      }
      : {
        level: "warn",
        check: "cni",
        message: `no CNI plugins in ${config.cni.binDirs.join(", ")}`,
        fix: "apt-get install -y containernetworking-plugins",
      },
  );
  return out;
}

/** Runs the checks and prints them; returns the exit code. */
export async function runCheck(opts: CheckOptions): Promise<number> {
  let config: Config;
  let effective: EffectiveEntry[];
  let files: readonly string[];
  try {
    const loaded = await loadConfigWithSources({
      path: opts.configPath,
      explicit: opts.configExplicit,
      overrides: opts.overrides,
    });
    config = loaded.config;
    files = loaded.files;
    effective = effectiveConfig(loaded);
  } catch (err) {
    const f: Finding = {
      level: "fail",
      check: "config",
      message: messageOf(err),
      fix: "fix the file and key named",
    };
    print([f], [], opts.json);
    return 1;
  }
  const findings = [
    {
      level: "ok",
      check: "config",
      message: `configuration valid (${files.length ? files.join(" + ") : "built-in defaults"})`,
    } as Finding,
    ...(await checks(config)),
  ];
  print(findings, effective, opts.json);
  return findings.some((f) => f.level === "fail") ? 1 : 0;
}

function print(findings: Finding[], effective: EffectiveEntry[], json: boolean): void {
  if (json) {
    console.log(
      JSON.stringify({
        ready: !findings.some((f) => f.level === "fail"),
        findings,
        config: effective,
      }),
    );
    return;
  }
  if (effective.length) {
    console.log(
      "effective configuration (# from: the file that set a key; others are at their default):",
    );
    for (const line of formatEffective(effective)) console.log(`  ${line}`);
    console.log("");
  }
  for (const f of findings) {
    const tag = f.level === "ok" ? "ok  " : f.level === "warn" ? "WARN" : "FAIL";
    console.log(
      `${tag} ${f.check.padEnd(10)} ${f.message}${
        f.fix ? `\n     ${"".padEnd(10)} fix: ${f.fix}` : ""
      }`,
    );
  }
  const failed = findings.filter((f) => f.level === "fail").length;
  console.log(failed ? `\nnot ready: ${failed} problem(s)` : "\nready");
}
