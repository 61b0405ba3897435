/**
 * The files every container of a pod sees: /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, written once per pod and bind-mounted into each container (as
 * containerd does). Contents are built by pure functions.
 *
 * @module
 */
import type { DNSConfig } from "../../api/gen/api.ts";

/** /etc/hosts of a pod with its own network namespace. */
export function podHosts(): string {
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
    "",
  ].join("\n");
}

/**
 * /etc/resolv.conf from the pod's DNSConfig; undefined when the config asks for nothing
 * (the caller then copies the node's file, as containerd does).
 */
export function resolvConf(dns: DNSConfig | undefined): string | undefined {
  if (!dns || (dns.servers.length === 0 && dns.searches.length === 0 && dns.options.length === 0)) {
    return undefined;
  }
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(" ")}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(" ")}`);
  return lines.join("\n") + "\n";
}
