/**
 * The node's Linux security modules, the impure half (the rules are in `oci/apparmor.ts`).
 *
 * AppArmor is detected as runc and containerd detect it: securityfs has an `apparmor`
 * directory and `/sys/module/apparmor/parameters/enabled` says `Y`. Where it is enabled,
 * sauropod's default profile is generated and loaded with `apparmor_parser -Kr` (as
 * containerd does) the first time a container needs it and whenever it has gone from the
 * kernel's list; its name carries a digest of its text, so "listed" means "loaded with this
 * content". A Localhost profile must be in the kernel's list. Where AppArmor is not enabled,
 * RuntimeDefault means no profile (there is none to apply) and Localhost is refused.
 *
 * SELinux is detected by selinuxfs (`/sys/fs/selinux/enforce`); sauropod applies no SELinux
 * labels (see `oci/_security.ts`).
 *
 * @module
 */
import { failedPrecondition, internal, messageOf } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";
import {
  type AppArmorRequest,
  defaultProfile,
  type DefaultProfileInputs,
  parseProfileList,
} from "../oci/mod.ts";

const SECURITYFS_APPARMOR = "/sys/kernel/security/apparmor";
const PROFILES = `${SECURITYFS_APPARMOR}/profiles`;
const ENABLED = "/sys/module/apparmor/parameters/enabled";
const APPARMOR_D = "/etc/apparmor.d";
/** Where Debian's `apparmor` puts the parser (both are granted in deploy/permissions.ts). */
export const APPARMOR_PARSERS = ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"];

/** Whether AppArmor confines processes on this node. */
export interface AppArmorFacts {
  enabled: boolean;
  /** Why not, when not enabled. */
  reason?: string;
  /** The parser's path, when installed. */
  parser?: string;
}

/** Detects AppArmor as runc's `apparmor.IsEnabled` does, and finds the parser. */
export async function detectAppArmor(): Promise<AppArmorFacts> {
  const parser = await firstFile(APPARMOR_PARSERS);
  const withParser = parser ? { parser } : {};
  try {
    await kernfs.stat(SECURITYFS_APPARMOR);
  } catch {
    return {
      enabled: false,
      reason: `${SECURITYFS_APPARMOR} does not exist (AppArmor is not in the kernel, or ` +
        "securityfs is not mounted)",
      ...withParser,
    };
  }
  const flag = await kernfs.readTextFile(ENABLED).catch(() => "");
  if (!flag.startsWith("Y")) {
    return { enabled: false, reason: `${ENABLED} is not Y (apparmor=0 at boot?)`, ...withParser };
  }
  return { enabled: true, ...withParser };
}

/** Whether SELinux is enabled: selinuxfs is mounted where libselinux looks first. */
export async function detectSelinux(): Promise<boolean> {
  return await kernfs.stat("/sys/fs/selinux/enforce").then(() => true, () => false);
}

async function firstFile(paths: readonly string[]): Promise<string | undefined> {
  for (const p of paths) {
    if (await Deno.stat(p).then((s) => s.isFile, () => false)) return p;
  }
  return undefined;
}

/** What the runtime asks of AppArmor. */
export interface AppArmorPort {
  /** The node's facts, for Status and logs. */
  readonly facts: AppArmorFacts;
  /**
   * The profile a process runs under for `req` (undefined: none, it keeps runc's), loading
   * the default profile when needed. A Localhost profile that is not loaded, or any
   * Localhost profile on a node without AppArmor, is failed-precondition naming the field.
   */
  profileFor(req: AppArmorRequest): Promise<string | undefined>;
  /** What Status's verbose info says about AppArmor. */
  info(): Record<string, unknown>;
}

/** AppArmor on a real node. */
export class AppArmor implements AppArmorPort {
  readonly facts: AppArmorFacts;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  /** The default profile, where AppArmor is enabled. */
  readonly #default: { name: string; text: string } | undefined;
  #loading: Promise<void> | undefined;

  private constructor(
    facts: AppArmorFacts,
    profile: { name: string; text: string } | undefined,
    opts: { logger: Logger; timeoutMs: number },
  ) {
    this.facts = facts;
    this.#default = profile;
    this.#log = opts.logger;
    this.#timeoutMs = opts.timeoutMs;
  }

  /**
   * AppArmor as this node has it: detected, and where enabled, the default profile's text
   * generated (it is loaded when a container first needs it).
   */
  static async open(opts: { logger: Logger; timeoutMs: number }): Promise<AppArmor> {
    const facts = await detectAppArmor();
    const profile = facts.enabled ? await defaultProfile(await readDefaultInputs()) : undefined;
    return new AppArmor(facts, profile, opts);
  }

  async profileFor(req: AppArmorRequest): Promise<string | undefined> {
    if (req.kind === "unconfined") return undefined;
    if (!this.facts.enabled) {
      // As CRI-O: the runtime's default on a node without AppArmor is no profile.
      if (req.kind === "default") return undefined;
      throw failedPrecondition(
        `${req.field}: cannot apply AppArmor profile "${req.name}": AppArmor is not enabled ` +
          `on this node (${this.facts.reason})`,
      );
    }
    if (req.kind === "localhost") {
      if (!(await loadedProfiles()).has(req.name)) {
        throw failedPrecondition(
          `${req.field}: AppArmor profile "${req.name}" is not loaded on this node (it is not ` +
            `in ${PROFILES})`,
        );
      }
      return req.name;
    }
    return await this.#ensureDefault(req.field);
  }

  info(): Record<string, unknown> {
    return { ...this.facts, defaultProfile: this.#default?.name ?? null };
  }

  async #ensureDefault(field: string): Promise<string> {
    const profile = this.#default;
    if (!profile) throw internal("AppArmor is enabled but no default profile was generated");
    if ((await loadedProfiles()).has(profile.name)) return profile.name;
    // Concurrent creates share one load.
    this.#loading ??= this.#load(profile, field).finally(() => this.#loading = undefined);
    await this.#loading;
    if (!(await loadedProfiles()).has(profile.name)) {
      throw failedPrecondition(
        `${field}: AppArmor profile "${profile.name}" was loaded but is not in ${PROFILES}`,
      );
    }
    return profile.name;
  }

  async #load(profile: { name: string; text: string }, field: string): Promise<void> {
    const parser = this.facts.parser;
    if (!parser) {
      throw failedPrecondition(
        `${field}: RuntimeDefault needs sauropod's default AppArmor profile, and loading it ` +
          `needs apparmor_parser, which is not installed (apt-get install -y apparmor)`,
      );
    }
    const t0 = performance.now();
    let out: Deno.CommandOutput;
    try {
      // -K: no cache; -r: replace (or add) — containerd's flags. The text goes on stdin.
      const child = new Deno.Command(parser, {
        args: ["-Kr"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(this.#timeoutMs),
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(profile.text)).finally(() => w.close());
      out = await child.output();
    } catch (err) {
      throw failedPrecondition(
        `${field}: cannot run ${parser} to load AppArmor profile "${profile.name}": ${
          messageOf(err)
        }`,
        { cause: err },
      );
    }
    if (!out.success) {
      const why = new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`;
      throw failedPrecondition(
        `${field}: ${parser} could not load AppArmor profile "${profile.name}": ${why}`,
      );
    }
    this.#log.info("loaded the default AppArmor profile", {
      profile: profile.name,
      ms: Math.round(performance.now() - t0),
    });
  }
}

/** The names in the kernel's list of loaded profiles. */
async function loadedProfiles(): Promise<Set<string>> {
  return parseProfileList(await kernfs.readTextFile(PROFILES));
}

/** What the default profile's text depends on, on this node. */
async function readDefaultInputs(): Promise<DefaultProfileInputs> {
  const has = (p: string) => Deno.stat(`${APPARMOR_D}/${p}`).then(() => true, () => false);
  return {
    tunablesGlobal: await has("tunables/global"),
    abstractionsBase: await has("abstractions/base"),
    daemonProfile: (await kernfs.readTextFile("/proc/self/attr/current").catch(() => ""))
      .replace(/\0/g, "").trim(),
  };
}
