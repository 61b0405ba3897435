/**
 * The files every container of a pod sees: /etc/hostname, /etc/hosts and
 * /etc/resolv.conf, written once per pod and bind-mounted into each container (as
 * containerd does). Contents are built by pure functions.
 *
 * @module
 */
import type { DNSConfig, PodSandboxConfig } from "../../api/gen/api.ts";

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

/**
 * Writes `text` to `path` atomically (temp, fsync, rename, fsync of the directory, so the
 * new name survives a power cut too) with exactly `mode` (the umask does not apply; see
 * `../modes.ts` for which mode a file gets).
 */
export async function writeFileAtomic(
  path: string,
  text: string | Uint8Array,
  mode: number,
): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  // Created 0600 whatever `mode` is: the content is never readable by others before the
  // chmod below settles the mode.
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  try {
    if (mode !== 0o600) await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  const dir = await Deno.open(path.slice(0, path.lastIndexOf("/")) || "/");
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}

/** The pod's hostname: the config's, else the node's for host-network pods, else the name. */
export function podHostname(config: PodSandboxConfig, hostNetwork: boolean): string {
  if (config.hostname) return config.hostname;
  if (hostNetwork) return Deno.hostname();
  return (config.metadata?.name ?? "pod").slice(0, 63);
}
