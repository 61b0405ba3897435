/**
 * Pod sysctls: only namespaced ones are allowed, and only when the namespace they live in is
 * the pod's own, as runc's config validator (`libcontainer/configs/validate`) and the
 * kubelet's sysctl allowlist decide. Checked here so the caller hears the field name
 * instead of a failed container start.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";
import { namespaceOf, sysctlComponents } from "../lib/sysctl_names.ts";

/** Which namespace a sysctl belongs to. */
export type SysctlNamespace = "ipc" | "network" | "uts";

/** The namespace of a sysctl name (dots or slashes), or undefined for a node-wide one. */
export function sysctlNamespace(name: string): SysctlNamespace | undefined {
  const components = sysctlComponents(name);
  if (components.join(".") === "kernel.hostname") return "uts";
  const ns = namespaceOf(components);
  return ns === "net" ? "network" : ns;
}

/**
 * Checks pod sysctls against the namespaces the container runs in: `hostNamespaces` lists
 * the ones shared with the node, where a sysctl would change the whole node.
 */
export function checkSysctls(
  sysctls: Readonly<Record<string, string>>,
  hostNamespaces: ReadonlySet<SysctlNamespace>,
  field: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(sysctls)) {
    const ns = sysctlNamespace(name);
    if (ns === undefined) {
      throw invalidArgument(
        `${field}["${name}"]: not a namespaced sysctl; it would change the node`,
      );
    }
    if (hostNamespaces.has(ns)) {
      throw invalidArgument(
        `${field}["${name}"]: not allowed when the pod shares the node's ${ns} namespace`,
      );
    }
    out[name] = value;
  }
  return out;
}
