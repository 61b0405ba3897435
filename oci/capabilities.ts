/**
 * Linux capabilities: the names the kernel knows, the default set containers get, and the
 * CRI add/drop rules that turn a security context into the OCI capability sets.
 *
 * @module
 */
import type { Capability } from "../api/gen/api.ts";
import { invalidArgument } from "../errors/mod.ts";
import type { LinuxCapabilities } from "./spec.ts";

/**
 * Every capability of Linux 5.9+ in kernel bit order (`include/uapi/linux/capability.h`):
 * index = bit number, so a `CapBnd:` mask from `/proc/<pid>/status` decodes by position.
 */
export const KNOWN_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

const KNOWN = new Set(KNOWN_CAPABILITIES);

/**
 * The capabilities a container gets unless its security context says otherwise: Docker's
 * set of 14, which containerd's CRI plugin still uses (`pkg/oci/spec.go` defaultUnixCaps;
 * the proposal to drop NET_RAW, MKNOD, SETFCAP, SYS_CHROOT and AUDIT_WRITE,
 * containerd/containerd#10435, was withdrawn). Order as containerd writes it.
 */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/**
 * Decodes a capability mask as printed in `/proc/<pid>/status` (`CapBnd:\t000001fffeffffff`)
 * into names; bits the table does not name (newer kernels) are skipped.
 */
export function capabilitiesFromMask(hex: string): string[] {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(trimmed)) {
    throw invalidArgument(`capability mask: "${hex}" is not a hexadecimal number`);
  }
  const mask = BigInt("0x" + trimmed);
  return KNOWN_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/**
 * The canonical name of a CRI capability name: `chown`, `CHOWN`, `cap_chown` and
 * `CAP_CHOWN` all mean `CAP_CHOWN`. Throws invalid-argument naming `field` when the kernel
 * has no such capability.
 */
export function canonicalCapability(name: string, field: string): string {
  const upper = name.trim().toUpperCase();
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!KNOWN.has(full)) throw invalidArgument(`${field}: unknown capability "${name}"`);
  return full;
}

const isAll = (name: string): boolean => name.trim().toUpperCase() === "ALL";

/** What {@link containerCapabilities} needs to know. */
export interface CapabilityRequest {
  /** The security context's add/drop/ambient lists (absent: the defaults). */
  capabilities: Capability | undefined;
  /** Privileged containers get every capability the agent has. */
  privileged: boolean;
  /**
   * What `ALL` and privileged mean: the agent's own capabilities (containerd's
   * `cap.Current()`), since runc cannot grant a capability it lacks.
   */
  all: readonly string[];
  /** Field path of the capabilities message, for error messages. */
  field: string;
}

/**
 * The OCI capability sets for a container, with containerd's rules
 * (`internal/cri/opts/spec_opts.go` WithCapabilities): start from the defaults; `ALL` in add
 * grants everything, `ALL` in drop removes everything, then the named adds and drops apply,
 * so `add: [ALL], drop: [CHOWN]` is everything but CHOWN and `drop: [ALL], add: [NET_ADMIN]`
 * is NET_ADMIN alone. Privileged containers get every capability. Ambient capabilities
 * (KEP-2763) also enter the bounding, effective, permitted and inheritable sets, because the
 * kernel keeps a capability ambient only while it is permitted and inheritable.
 */
export function containerCapabilities(req: CapabilityRequest): LinuxCapabilities {
  const caps = req.capabilities;
  const add = caps?.addCapabilities ?? [];
  const drop = caps?.dropCapabilities ?? [];
  const ambientNames = caps?.addAmbientCapabilities ?? [];

  // Validate every name first so a bad entry is reported even when ALL makes it moot.
  const added = add.flatMap((c, i) =>
    isAll(c) ? [] : [canonicalCapability(c, `${req.field}.add_capabilities[${i}]`)]
  );
  const dropped = drop.flatMap((c, i) =>
    isAll(c) ? [] : [canonicalCapability(c, `${req.field}.drop_capabilities[${i}]`)]
  );
  const ambient = ambientNames.map((c, i) =>
    canonicalCapability(c, `${req.field}.add_ambient_capabilities[${i}]`)
  );

  let set: string[];
  if (req.privileged) {
    set = [...req.all];
  } else {
    set = add.some(isAll) ? [...req.all] : [...DEFAULT_CAPABILITIES];
    if (drop.some(isAll)) set = [];
    for (const c of added) if (!set.includes(c)) set.push(c);
    set = set.filter((c) => !dropped.includes(c));
  }
  const inheritable: string[] = [];
  for (const c of ambient) {
    if (!set.includes(c)) set.push(c);
    if (!inheritable.includes(c)) inheritable.push(c);
  }
  const out: LinuxCapabilities = {
    bounding: set,
    effective: [...set],
    permitted: [...set],
  };
  if (inheritable.length > 0) out.inheritable = inheritable;
  if (ambient.length > 0) out.ambient = [...ambient];
  return out;
}
