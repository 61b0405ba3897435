/**
 * The cgroup part of `sauropod check`: layout, controllers, and whether the configured
 * driver can work here.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { controllerVersion, detectLayout } from "../cgroups/layout.ts";
import { messageOf } from "../errors/mod.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";
import type { Finding } from "./finding.ts";

const NEEDED = ["cpu", "memory", "pids"];

/** Checks the cgroup layout and driver for `config`. */
export async function checkCgroups(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  let layout;
  try {
    layout = await detectLayout();
  } catch (err) {
    return [{
      level: "fail",
      check: "cgroups",
      message: `cannot detect the cgroup layout: ${messageOf(err)}`,
      fix: "mount cgroup2 at /sys/fs/cgroup (or the v1 hierarchies)",
    }];
  }
  const where = (c: string) => {
    const v = controllerVersion(layout, c);
    return v === undefined ? `${c}: missing` : `${c}: v${v}`;
  };
  out.push({
    level: "ok",
    check: "cgroups",
    message: `layout ${layout.mode} (${
      [...NEEDED, "cpuacct", "io", "blkio"].map(where).join(", ")
    })`,
  });
  if (layout.mode !== "v2") {
    out.push({
      level: "warn",
      check: "cgroups",
      message: `cgroup ${layout.mode}: Kubernetes 1.35+ refuses cgroup v1 by default ` +
        `(failCgroupV1); sauropod supports it, the kubelet may not`,
      fix: "boot with systemd.unified_cgroup_hierarchy=1",
    });
  }
  for (const c of NEEDED) {
    if (controllerVersion(layout, c) === undefined) {
      out.push({
        level: "fail",
        check: "cgroups",
        message: `the ${c} controller is not available`,
        fix: layout.mode === "v1"
          ? `mount the ${c} hierarchy under /sys/fs/cgroup`
          : `enable it: echo +${c} > /sys/fs/cgroup/cgroup.subtree_control`,
      });
    }
  }
  if (config.runtime.cgroupDriver === "systemd") {
    let systemd = false;
    try {
      systemd = (await kernfs.readTextFile("/proc/1/comm")).trim() === "systemd";
    } catch {
      // unknown
    }
    out.push(
      systemd
        ? { level: "ok", check: "cgroups", message: "cgroup driver systemd (PID 1 is systemd)" }
        : {
          level: "fail",
          check: "cgroups",
          message: "cgroup driver systemd, but PID 1 is not systemd",
          fix: 'set runtime.cgroup_driver = "cgroupfs"',
        },
    );
  } else {
    out.push({ level: "ok", check: "cgroups", message: "cgroup driver cgroupfs" });
  }
  return out;
}
