/**
 * Security-context pieces with no better home: the default masked and read-only paths, and
 * SELinux options (not applied: see {@link checkSelinuxOptions}).
 *
 * @module
 */
import type { SELinuxOption } from "../api/gen/api.ts";
import { failedPrecondition, invalidArgument } from "../errors/mod.ts";

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
 * SELinux options: sauropod applies no SELinux labels. On a node without SELinux they are
 * ignored, as containerd and CRI-O ignore them there (go-selinux's labels are empty when
 * SELinux is off); on a node with SELinux enabled they are refused, since the container
 * would otherwise run silently unlabelled.
 */
export function checkSelinuxOptions(
  options: SELinuxOption | undefined,
  selinux: boolean,
  field: string,
): void {
  if (!options || !(options.user || options.role || options.type || options.level)) return;
  if (selinux) {
    throw failedPrecondition(
      `${field}: sauropod does not apply SELinux labels, and SELinux is enabled on this node`,
    );
  }
}
