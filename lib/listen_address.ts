/**
 * Listen addresses an operator writes in the config (`[metrics] address`): TCP as
 * `host:port` with an IP literal (`[v6]:port` for IPv6), or a unix socket as an absolute
 * path or `unix://<path>`, the spellings containerd and CRI-O accept for theirs.
 *
 * Host names are refused rather than resolved: what `localhost` means is up to
 * `/etc/hosts`, and an endpoint that should be loopback-only must not depend on it.
 *
 * @module
 */

/** A parsed listen address. */
export type ListenAddress =
  | { kind: "tcp"; hostname: string; port: number; loopback: boolean }
  | { kind: "unix"; path: string };

/** The longest unix socket path the kernel takes (sun_path is 108 bytes with its NUL). */
const MAX_UNIX_PATH = 107;

/**
 * Parses `text`, or returns a message saying what is wrong with it (the caller names the
 * key). Never resolves a name.
 */
export function parseListenAddress(text: string): ListenAddress | string {
  if (text.startsWith("unix://") || text.startsWith("/")) {
    const path = text.startsWith("unix://") ? text.slice("unix://".length) : text;
    if (!path.startsWith("/")) return `unix socket path "${path}" must be absolute`;
    if (path.split("/").some((c) => c === "." || c === "..")) {
      return `unix socket path "${path}" must not contain "." or ".." components`;
    }
    if (new TextEncoder().encode(path).length > MAX_UNIX_PATH) {
      return `unix socket path "${path}" is longer than ${MAX_UNIX_PATH} bytes`;
    }
    return { kind: "unix", path };
  }
  const m = text.match(/^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/) ?? text.match(/^([0-9.]+):(\d{1,5})$/);
  if (!m) {
    return `"${text}" is neither host:port with an IP address (127.0.0.1:9101, [::1]:9101) ` +
      `nor a unix socket (an absolute path or unix:///path)`;
  }
  const host = m[1]!;
  const port = Number(m[2]);
  if (port > 65535) return `port ${port} is out of range`;
  const v6 = text.startsWith("[");
  if (v6 ? !isIpv6(host) : !isIpv4(host)) return `"${host}" is not an IP address`;
  return {
    kind: "tcp",
    hostname: host,
    port,
    loopback: v6 ? isV6Loopback(host) : isV4Loopback(host),
  };
}

function isIpv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) < 256);
}

function isV4Loopback(s: string): boolean {
  return s.split(".")[0] === "127";
}

function isIpv6(s: string): boolean {
  if (!/^[0-9a-fA-F:]+$/.test(s) || (s.match(/::/g) ?? []).length > 1) return false;
  const groups = s.split(":").filter((g) => g !== "");
  return groups.every((g) => g.length <= 4) &&
    (s.includes("::") ? groups.length < 8 : groups.length === 8);
}

/** `::1` in any spelling (`0:0:0:0:0:0:0:1`, `::0001`). */
function isV6Loopback(s: string): boolean {
  const [head, tail] = s.includes("::") ? s.split("::") as [string, string] : [s, ""];
  const h = head === "" ? [] : head.split(":");
  const t = tail === "" ? [] : tail.split(":");
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) =>
    parseInt(g, 16)
  );
  return groups.length === 8 && groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1;
}
