/**
 * A private network world for one integration test (root, real plugins from
 * `/usr/lib/cni`): its own conf dir, bridge `sptest<hex>`, subnet `10.99.<n>.0/24`,
 * host-local data dir, attachment cache and namespace root, all under one temp dir, plus
 * the leak checks and the cleanup that runs even when the test fails.
 *
 * Only for `*_integration_test.ts` files.
 *
 * @module
 */
import { unmount } from "../ffi/mount.ts";
import { nullLogger } from "../log/mod.ts";
import { CniManager } from "./cni.ts";
import { pinNamespaces, type PinnedNamespaces, unpinNamespaces } from "./namespaces.ts";
import type { PodNetworkRequest } from "./types.ts";

/** Where the Debian package puts the plugins. */
export const PLUGIN_DIR = "/usr/lib/cni";

/** Why the machine cannot run these tests, or `undefined` when it can. */
export function skipReason(): string | undefined {
  if (Deno.build.os !== "linux") return "Linux only";
  if (Deno.uid() !== 0) return "needs root";
  for (const p of ["bridge", "host-local", "portmap", "loopback"]) {
    try {
      Deno.statSync(`${PLUGIN_DIR}/${p}`);
    } catch {
      return `CNI plugin ${PLUGIN_DIR}/${p} is not installed (apt install containernetworking-plugins)`;
    }
  }
  for (const tool of ["/usr/bin/unshare", "/usr/bin/nsenter", "/bin/busybox"]) {
    try {
      Deno.statSync(tool);
    } catch {
      return `${tool} is missing`;
    }
  }
  return undefined;
}

/** Runs a command and returns its stdout; throws with stderr when it fails. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

/** Like {@link sh} but returns `undefined` instead of throwing. */
export async function trySh(cmd: string, ...args: string[]): Promise<string | undefined> {
  try {
    return await sh(cmd, ...args);
  } catch {
    return undefined;
  }
}

const hex = (n: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

/** One test's network world. Create with {@link NetEnv.create}; always `await using`. */
export class NetEnv implements AsyncDisposable {
  readonly tmp: string;
  readonly confDir: string;
  readonly binDir: string;
  readonly ipamDir: string;
  readonly cacheDir: string;
  readonly nsRoot: string;
  readonly bridge: string;
  readonly network: string;
  readonly subnet: string;
  readonly subnet6: string;
  readonly #pinned = new Set<string>();
  readonly #managers: CniManager[] = [];
  readonly #hadHostportChains: boolean;

  private constructor(tmp: string, hadHostportChains: boolean) {
    const id = hex(3);
    this.tmp = tmp;
    this.confDir = `${tmp}/net.d`;
    this.binDir = `${tmp}/bin`;
    this.ipamDir = `${tmp}/ipam`;
    this.cacheDir = `${tmp}/cache`;
    this.nsRoot = `${tmp}/ns`;
    this.bridge = `sptest${id}`;
    this.network = `sptest-${id}`;
    this.subnet = `10.99.${crypto.getRandomValues(new Uint8Array(1))[0]}.0/24`;
    // A group of four hex digits without a leading zero: how the plugin prints it back.
    const group = (0x1000 + crypto.getRandomValues(new Uint16Array(1))[0]! % 0xf000).toString(16);
    this.subnet6 = `fd99:${group}::/64`;
    this.#hadHostportChains = hadHostportChains;
  }

  /** Makes the temp dirs; nothing on the host changes until a plugin runs. */
  static async create(): Promise<NetEnv> {
    const tmp = await Deno.makeTempDir({ prefix: "sauropod-net-" });
    const had = (await trySh("iptables", "-w", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT")) !==
      undefined;
    const env = new NetEnv(tmp, had);
    for (const d of [env.confDir, env.binDir]) await Deno.mkdir(d);
    return env;
  }

  /** The bridge plugin's config for this world (no gateway, no NAT: nothing leaves). */
  bridgePlugin(opts: { subnet?: string; dualStack?: boolean } = {}): Record<string, unknown> {
    const ranges = [[{ subnet: opts.subnet ?? this.subnet }]];
    if (opts.dualStack) ranges.push([{ subnet: this.subnet6 }]);
    return {
      type: "bridge",
      bridge: this.bridge,
      isGateway: false,
      ipMasq: false,
      ipam: { type: "host-local", ranges, dataDir: this.ipamDir },
    };
  }

  /** Writes a conflist named `10-<network>.conflist` with `plugins`. */
  async writeConf(plugins: unknown[], cniVersion = "1.0.0"): Promise<void> {
    await Deno.writeTextFile(
      `${this.confDir}/10-${this.network}.conflist`,
      JSON.stringify({ cniVersion, name: this.network, plugins }),
    );
  }

  /** Installs a fake plugin (a shell script) in this world's own bin dir. */
  async fakePlugin(name: string, script: string): Promise<void> {
    await Deno.writeTextFile(`${this.binDir}/${name}`, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  }

  /** A manager over this world: its conf dir, its bin dir then the real plugins. */
  manager(timeoutSeconds = 20): CniManager {
    const m = new CniManager({
      config: {
        confDir: this.confDir,
        binDirs: [this.binDir, PLUGIN_DIR],
        pluginTimeoutSeconds: timeoutSeconds,
      },
      cacheDir: this.cacheDir,
      logger: nullLogger,
    });
    this.#managers.push(m);
    return m;
  }

  /** Pins a pod's namespaces under the ns root; unpinned at dispose. */
  async pin(podId: string, extra: { hostname?: string } = {}): Promise<PinnedNamespaces> {
    this.#pinned.add(podId);
    return await pinNamespaces({
      dir: `${this.nsRoot}/${podId}`,
      net: true,
      ipc: true,
      uts: true,
      ...extra,
    });
  }

  /** Unpins one pod now. */
  async unpin(podId: string): Promise<void> {
    await unpinNamespaces(`${this.nsRoot}/${podId}`);
    this.#pinned.delete(podId);
  }

  /** A request for `podId` with defaults. */
  request(
    podId: string,
    netnsPath: string,
    extra: Partial<PodNetworkRequest> = {},
  ): PodNetworkRequest {
    return {
      podId,
      name: `pod-${podId}`,
      namespace: "sauropod-test",
      uid: `uid-${podId}`,
      netnsPath,
      portMappings: [],
      ...extra,
    };
  }

  /** Host-side interfaces enslaved to this world's bridge (the pods' veth peers). */
  async veths(): Promise<string[]> {
    const out = await trySh("ip", "-o", "link", "show", "master", this.bridge);
    if (!out) return [];
    return out.split("\n").filter((l) => l.trim() !== "").map((l) => l.split(":")[1]!.trim());
  }

  /** Addresses host-local still holds for this world's network. */
  async reservations(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(`${this.ipamDir}/${this.network}`)) {
        if (e.name !== "lock" && !e.name.startsWith("last_reserved_ip")) out.push(e.name);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out.sort();
  }

  /** Mounts still present under the ns root (not counting the root itself). */
  async nsMounts(): Promise<string[]> {
    const info = await Deno.readTextFile("/proc/self/mountinfo");
    return info.split("\n").map((l) => l.split(" ")[4] ?? "").filter((mp) =>
      mp.startsWith(`${this.nsRoot}/`)
    );
  }

  /** Entries left under the ns root. */
  async nsEntries(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(this.nsRoot)) out.push(e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out;
  }

  /** nat rules portmap made for this world's network. */
  async portmapRules(): Promise<string[]> {
    const out = (await trySh("iptables", "-w", "-t", "nat", "-S")) ?? "";
    return out.split("\n").filter((l) => l.includes(`name: \\"${this.network}\\"`));
  }

  /**
   * Tears down whatever the test left (DEL for every recorded pod, unpin, unmount the ns
   * root), deletes the bridge, removes the top-level portmap chains if this test created
   * them and nobody uses them, and removes the temp dir.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    // A fresh manager with the real plugins only: the test may have left a hanging fake.
    const m = new CniManager({
      config: { confDir: this.confDir, binDirs: [PLUGIN_DIR], pluginTimeoutSeconds: 20 },
      cacheDir: this.cacheDir,
      logger: nullLogger,
    });
    for (const pod of await m.attachedPods().catch(() => [])) {
      await attempt(() => m.tearDown({ podId: pod }));
    }
    for (const pod of [...this.#pinned]) await attempt(() => this.unpin(pod));
    await attempt(() => {
      for (let i = 0; i < 8 && unmount(this.nsRoot, { detach: true }); i++);
      return Promise.resolve();
    });
    await trySh("ip", "link", "del", this.bridge);
    if (!this.#hadHostportChains) await attempt(() => removeIdleHostportChains());
    await attempt(() => Deno.remove(this.tmp, { recursive: true }));
    if (errors.length > 0) {
      throw new AggregateError(errors, `cleanup of ${this.tmp} failed`);
    }
  }
}

/**
 * portmap creates these shared chains on first use and never removes them. Remove them
 * only when they hold no container's rule, so a concurrent user elsewhere is unaffected.
 */
async function removeIdleHostportChains(): Promise<void> {
  const dnat = await trySh("iptables", "-w", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT");
  if (dnat === undefined) return;
  if (dnat.split("\n").some((l) => l.startsWith("-A "))) return;
  const ipt = (...a: string[]) => trySh("iptables", "-w", "-t", "nat", ...a);
  await ipt("-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT");
  await ipt("-D", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT");
  await ipt(
    "-D",
    "POSTROUTING",
    "-m",
    "comment",
    "--comment",
    "CNI portfwd requiring masquerade",
    "-j",
    "CNI-HOSTPORT-MASQ",
  );
  for (const chain of ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"]) {
    await ipt("-F", chain);
    await ipt("-X", chain);
  }
}
