/**
 * AppArmor, the pure half: which profile a security context asks for, under containerd's
 * rules (`internal/cri/sputil/apparmor_linux.go`), and the text of sauropod's default
 * profile, modelled on containerd's `contrib/apparmor` template (`cri-containerd.apparmor.d`,
 * itself Docker's `docker-default`). Whether the node can apply it, and loading it, are
 * `lsm/mod.ts`'s.
 *
 * @module
 */
import {
  type SecurityProfile,
  SecurityProfile_ProfileType as ProfileType,
} from "../api/gen/api.ts";
import { invalidArgument } from "../errors/mod.ts";
import { profileFromPath } from "./seccomp.ts";

/** What a container asks of AppArmor, once the CRI's forms and containerd's rules apply. */
export type AppArmorRequest =
  /** No profile: the process keeps the one it inherits (unconfined on a plain node). */
  | { kind: "unconfined"; field: string }
  /** sauropod's default profile (RuntimeDefault, or nothing asked). */
  | { kind: "default"; field: string }
  /** A profile the node's administrator loaded, by name. */
  | { kind: "localhost"; name: string; field: string };

/** The security-context fields AppArmor is asked through. */
export interface AppArmorSource {
  /** The structured profile; wins over the path. */
  apparmor?: SecurityProfile | undefined;
  /** Deprecated `apparmor_profile` (`runtime/default`, `localhost/<name>`, `unconfined`). */
  apparmorProfile?: string | undefined;
}

/** Longest Localhost profile name accepted (a sanity bound: real names are short). */
export const MAX_PROFILE_NAME_BYTES = 1024;

const LOCALHOST_PREFIX = "localhost/";

/**
 * The AppArmor request of a security context (`field` names it in errors). As containerd:
 * the structured `apparmor` wins over the deprecated `apparmor_profile` string the kubelet
 * also sends; nothing asked means RuntimeDefault; a privileged container's RuntimeDefault is
 * unconfined, while a Localhost profile applies to it as asked; `localhost_ref` with another
 * type, an empty Localhost name or an unknown type is invalid.
 */
export function apparmorRequest(
  sc: AppArmorSource | undefined,
  privileged: boolean,
  field: string,
): AppArmorRequest {
  const structured = sc?.apparmor;
  const at = structured ? `${field}.apparmor` : `${field}.apparmor_profile`;
  const sp = structured ?? profileFromPath(sc?.apparmorProfile ?? "", at);
  if (sp === undefined) {
    return privileged ? { kind: "unconfined", field } : { kind: "default", field };
  }
  if (sp.profileType !== ProfileType.Localhost && sp.localhostRef !== "") {
    throw invalidArgument(`${at}.localhost_ref: set, but the profile type is not Localhost`);
  }
  switch (sp.profileType) {
    case ProfileType.Unconfined:
      return { kind: "unconfined", field: at };
    case ProfileType.RuntimeDefault:
      return privileged ? { kind: "unconfined", field: at } : { kind: "default", field: at };
    case ProfileType.Localhost: {
      // The kubelet sends the bare name; containerd trims the prefix "just in case".
      const name = sp.localhostRef.startsWith(LOCALHOST_PREFIX)
        ? sp.localhostRef.slice(LOCALHOST_PREFIX.length)
        : sp.localhostRef;
      const where = structured ? `${at}.localhost_ref` : at;
      checkProfileName(name, where);
      return { kind: "localhost", name, field: where };
    }
    default:
      throw invalidArgument(`${at}.profile_type: unknown profile type ${sp.profileType}`);
  }
}

function checkProfileName(name: string, field: string): void {
  if (name === "") throw invalidArgument(`${field}: empty AppArmor profile name`);
  if (new TextEncoder().encode(name).length > MAX_PROFILE_NAME_BYTES) {
    throw invalidArgument(
      `${field}: AppArmor profile name longer than ${MAX_PROFILE_NAME_BYTES} bytes`,
    );
  }
  // The name goes to the kernel (runc writes "exec <name>" to /proc/self/attr/exec) and is
  // matched against the lines of the kernel's profile list.
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) {
    throw invalidArgument(
      `${field}: AppArmor profile name ${JSON.stringify(name)} contains a control character`,
    );
  }
}

/** The prefix of the default profile's name; the rest is a digest of its text. */
export const DEFAULT_PROFILE_PREFIX = "sauropod-default-";

/** What the default profile's text depends on, found on the node. */
export interface DefaultProfileInputs {
  /** `/etc/apparmor.d/tunables/global` exists (it defines `@{PROC}` and friends). */
  tunablesGlobal: boolean;
  /** `/etc/apparmor.d/abstractions/base` exists. */
  abstractionsBase: boolean;
  /**
   * The agent's own profile (`/proc/self/attr/current` without its mode), which shims and
   * runc inherit: they signal containers. Empty or `unconfined` when unconfined.
   */
  daemonProfile: string;
}

/**
 * The default profile's text under `name`. As containerd's: everything a container does
 * normally is allowed (`file`, `network`, `capability`), and what would reach the host
 * through the kernel's interfaces is denied — writes to /proc outside a process's own and
 * /proc/sys/kernel/shm*, sysrq-trigger, kcore, mem, kmem, every mount, writes under /sys
 * outside cgroupfs, reading firmware, powercap and securityfs. Signals come only from the
 * unconfined host, the runtimes and the agent, and between the container's own processes.
 */
export function defaultProfileText(name: string, inputs: DefaultProfileInputs): string {
  const quoted = JSON.stringify(name);
  const daemon = inputs.daemonProfile.split(" ")[0] || "unconfined";
  const lines = [
    inputs.tunablesGlobal ? "#include <tunables/global>" : "@{PROC}=/proc/",
    "",
    `profile ${quoted} flags=(attach_disconnected,mediate_deleted) {`,
    ...(inputs.abstractionsBase ? ["  #include <abstractions/base>", ""] : []),
    "  network,",
    "  capability,",
    "  file,",
    "  umount,",
    "  # Host (unconfined) processes, the OCI runtimes and the agent may signal the container.",
    "  signal (receive) peer=unconfined,",
    "  signal (receive) peer=runc,",
    "  signal (receive) peer=crun,",
    ...(daemon !== "unconfined" ? [`  signal (receive) peer=${JSON.stringify(daemon)},`] : []),
    "  # The container's processes may signal each other.",
    `  signal (send,receive) peer=${quoted},`,
    "",
    "  # No writes to files directly in /proc, nor outside /proc/<pid>/** and /proc/sys/**.",
    "  deny @{PROC}/* w,",
    "  deny @{PROC}/{[^1-9/],[^1-9/][^0-9/],[^1-9s/][^0-9y/][^0-9s/],[^1-9/][^0-9/][^0-9/][^0-9/]*}/** w,",
    "  # /proc/sys: only /proc/sys/kernel/shm* is writable.",
    "  deny @{PROC}/sys/[^k]** w,",
    "  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,",
    "  deny @{PROC}/sysrq-trigger rwklx,",
    "  deny @{PROC}/kcore rwklx,",
    "  deny @{PROC}/mem rwklx,",
    "  deny @{PROC}/kmem rwklx,",
    "",
    "  deny mount,",
    "",
    "  # /sys: writes only under /sys/fs/cgroup; firmware, powercap and securityfs unread.",
    "  deny /sys/[^f]*/** wklx,",
    "  deny /sys/f[^s]*/** wklx,",
    "  deny /sys/fs/[^c]*/** wklx,",
    "  deny /sys/fs/c[^g]*/** wklx,",
    "  deny /sys/fs/cg[^r]*/** wklx,",
    "  deny /sys/firmware/** rwklx,",
    "  deny /sys/devices/virtual/powercap/** rwklx,",
    "  deny /sys/kernel/security/** rwklx,",
    "",
    "  # The container's processes may trace each other, as far as other LSMs and Yama allow.",
    `  ptrace (trace,tracedby,read,readby) peer=${quoted},`,
    "}",
    "",
  ];
  return lines.join("\n");
}

/**
 * The default profile's name and text for `inputs`: `sauropod-default-<digest>`, where the
 * digest covers the text, so a profile of that name in the kernel's list is known to have
 * this content, and a changed template (an upgrade, a node whose includes appeared) gets a
 * new name instead of changing the confinement of running containers under them.
 */
export async function defaultProfile(
  inputs: DefaultProfileInputs,
): Promise<{ name: string; text: string }> {
  const bytes = new TextEncoder().encode(defaultProfileText(DEFAULT_PROFILE_PREFIX, inputs));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const name = `${DEFAULT_PROFILE_PREFIX}${hex}`;
  return { name, text: defaultProfileText(name, inputs) };
}

/**
 * The names in the kernel's profile list (`/sys/kernel/security/apparmor/profiles`: one
 * `name (mode)` per line).
 */
export function parseProfileList(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const at = line.lastIndexOf(" (");
    if (at > 0) names.add(line.slice(0, at));
  }
  return names;
}
