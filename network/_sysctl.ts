/**
 * Pod sysctls: which are namespaced, which namespace each belongs to, and where it lives
 * under `/proc/sys`.
 *
 * The API is open even though the kubelet only forwards safe or explicitly allowed
 * sysctls, so this is the last line that keeps a pod from changing the node: only
 * sysctls that the kernel scopes to a namespace the pod owns are accepted (runc's
 * validator and podman's `--sysctl` documentation list the same set).
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";
import { type NamespaceKind, namespaceOf, sysctlComponents } from "../lib/sysctl_names.ts";

const COMPONENT_RE = /^[A-Za-z0-9_.+@-]+$/;

export type { NamespaceKind } from "../lib/sysctl_names.ts";

/** One sysctl to write, resolved. */
export interface SysctlWrite {
  /** The name as given by the caller (for messages). */
  readonly name: string;
  /** Absolute path under /proc/sys. */
  readonly path: string;
  readonly value: string;
  readonly namespace: NamespaceKind;
}

/**
 * Validates `sysctls` against the namespaces the pod gets and resolves each to its path.
 * Throws invalid-argument naming the first bad sysctl: malformed, not namespaced, in a
 * namespace the pod shares with the node, or with an unusable value. Whether the sysctl
 * exists on this kernel is checked later, inside the new namespace.
 */
export function planSysctls(
  sysctls: Readonly<Record<string, string>>,
  owned: Readonly<Record<NamespaceKind, boolean>>,
): SysctlWrite[] {
  const out: SysctlWrite[] = [];
  for (const [name, value] of Object.entries(sysctls)) {
    const components = sysctlComponents(name);
    if (components.some((c) => !COMPONENT_RE.test(c) || c === "." || c === "..")) {
      throw invalidArgument(`sysctl ${JSON.stringify(name)} is not a valid sysctl name`);
    }
    if (components.join(".") === "kernel.hostname") {
      throw invalidArgument(
        'sysctl "kernel.hostname" cannot be set; the pod hostname comes from its own field',
      );
    }
    const ns = namespaceOf(components);
    if (!ns) {
      throw invalidArgument(
        `sysctl ${JSON.stringify(name)} is not namespaced (or unknown) and cannot be set for a pod`,
      );
    }
    if (!owned[ns]) {
      const which = ns === "net" ? "network" : ns === "ipc" ? "IPC" : "UTS";
      throw invalidArgument(
        `sysctl ${
          JSON.stringify(name)
        } is not allowed: the pod shares the node's ${which} namespace`,
      );
    }
    if (typeof value !== "string" || value === "" || /[\0\n]/.test(value) || value.length > 4096) {
      throw invalidArgument(
        `sysctl ${JSON.stringify(name)} has an invalid value ${JSON.stringify(value)}`,
      );
    }
    out.push({ name, path: `/proc/sys/${components.join("/")}`, value, namespace: ns });
  }
  return out;
}

/**
 * Checks a pod hostname before it is written into a new UTS namespace: the kernel takes up
 * to 64 bytes; a newline or NUL would be silently truncated.
 */
export function validateHostname(hostname: string): void {
  const bytes = new TextEncoder().encode(hostname).length;
  if (hostname === "" || bytes > 64 || /[\0\n\s/]/.test(hostname)) {
    throw invalidArgument(
      `hostname ${JSON.stringify(hostname)} must be 1 to 64 bytes without spaces or '/'`,
    );
  }
}
