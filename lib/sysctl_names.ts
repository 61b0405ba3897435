/**
 * Which kernel namespace a sysctl belongs to: the one classification used both where a
 * pod's namespaces are pinned (`network/`) and where container specs are built (`oci/`).
 * Only sysctls the kernel scopes to a namespace can be set for a pod (runc's validator and
 * podman's `--sysctl` documentation list the same set).
 *
 * @module
 */

/** The namespaces a pod can own. */
export type NamespaceKind = "net" | "ipc" | "uts";

const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * The components of a sysctl name. Like the kubelet and runc, both spellings work: with
 * dots as separators (`net.ipv4.ip_forward`, where a `/` stands for a literal dot, as in
 * `net.ipv4.conf.eth0/100.rp_filter`) or, when the first separator is a slash, with slashes
 * (`net/ipv4/conf/eth0.100/rp_filter`).
 */
export function sysctlComponents(name: string): string[] {
  const first = name.search(/[./]/);
  if (first >= 0 && name[first] === "/") return name.split("/");
  return name.split(".").map((c) => c.replaceAll("/", "."));
}

/** The namespace a sysctl belongs to, or `undefined` when it is not namespaced. */
export function namespaceOf(components: readonly string[]): NamespaceKind | undefined {
  const dotted = components.join(".");
  if (components[0] === "net" && components.length > 1) return "net";
  if (IPC_SYSCTLS.has(dotted)) return "ipc";
  if (components[0] === "fs" && components[1] === "mqueue" && components.length > 2) return "ipc";
  if (dotted === "kernel.domainname") return "uts";
  return undefined;
}
