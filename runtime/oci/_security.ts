/**
 * Security-context pieces with no better home: the default masked and read-only paths, and
 * the record of AppArmor and SELinux requests.
 *
 * @module
 */
import {
  type SecurityProfile,
  SecurityProfile_ProfileType as ProfileType,
  type SELinuxOption,
} from "../../cri/gen/api.ts";
import { invalidArgument } from "../../errors/mod.ts";
import { APPARMOR_PROFILE, SELINUX_OPTIONS } from "./annotations.ts";
import { profileFromPath } from "./seccomp.ts";

/** Paths hidden from unprivileged containers (containerd's populateDefaultUnixSpec). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  "/proc/scsi",
];

/** Paths unprivileged containers see read-only (containerd's populateDefaultUnixSpec). */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** Checks a masked or read-only path list: absolute paths only. */
export function checkPathList(paths: readonly string[], field: string): string[] {
  return paths.map((p, i) => {
    if (!p.startsWith("/")) throw invalidArgument(`${field}[${i}]: "${p}" is not an absolute path`);
    return p;
  });
}

/**
 * Annotations recording the AppArmor profile and SELinux options asked for. sauropod does not
 * apply them: the nodes it supports run neither LSM, and runc refuses a profile it cannot
 * load. Recording them keeps the request visible (`crictl inspect`) without failing pods.
 */
export function lsmAnnotations(
  apparmor: SecurityProfile | undefined,
  apparmorPath: string,
  selinux: SELinuxOption | undefined,
  field: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  const sp = apparmor ?? profileFromPath(apparmorPath, `${field}.apparmor_profile`);
  if (sp) {
    switch (sp.profileType) {
      case ProfileType.RuntimeDefault:
        out[APPARMOR_PROFILE] = "runtime/default";
        break;
      case ProfileType.Unconfined:
        out[APPARMOR_PROFILE] = "unconfined";
        break;
      case ProfileType.Localhost:
        out[APPARMOR_PROFILE] = "localhost/" + sp.localhostRef.replace(/^localhost\//, "");
        break;
      default:
        throw invalidArgument(
          `${field}.apparmor.profile_type: unknown profile type ${sp.profileType}`,
        );
    }
  }
  if (selinux && (selinux.user || selinux.role || selinux.type || selinux.level)) {
    out[SELINUX_OPTIONS] = [selinux.user, selinux.role, selinux.type, selinux.level].join(":");
  }
  return out;
}
