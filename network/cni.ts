/**
 * Pod networking through CNI: attach a pod's netns to the node's network (ADD), detach it
 * (DEL), and report whether networking is ready.
 *
 * One network, from the lexically first config in the conf dir (containerd's
 * `max_conf_num = 1`), re-read whenever that file changes. Each pod's attachment (the
 * config used, the arguments, the result) is recorded in the cache dir so that DEL replays
 * exactly what ADD did, even after the config file changed or the agent restarted.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import {
  alreadyExists,
  failedPrecondition,
  internal,
  invalidArgument,
  messageOf,
  wrap,
} from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import { atomicWriteSync } from "../lib/fs.ts";
import { type Attachment, AttachmentCache } from "./_cache.ts";
import {
  compareVersions,
  ConfDir,
  effectivePlugins,
  type NetworkConfList,
  type PluginConf,
} from "./_conf.ts";
import {
  type CniArgs,
  findPlugin,
  invokePlugin,
  POD_IFNAME,
  podCapabilityArgs,
  podCniArgs,
  validateRequest,
} from "./_invoke.ts";
import { parseCidr, parseResult, podIps } from "./_result.ts";
import { isLiveNamespace } from "./namespaces.ts";
import type {
  NetworkStatus,
  PodNetworkRequest,
  PodNetworkResult,
  PodNetworkTeardown,
} from "./types.ts";

/** The reason of `NetworkReady=false`, as containerd and CRI-O report it. */
export const NETWORK_NOT_READY_REASON = "NetworkPluginNotReady";

/** Options of {@link CniManager}. */
export interface CniManagerOptions {
  /** The `[cni]` section of the agent config. */
  readonly config: Config["cni"];
  /** Persistent directory of per-pod attachment records (e.g. `<root>/cni`). */
  readonly cacheDir: string;
  /**
   * Where the pod CIDR from UpdateRuntimeConfig is kept (e.g. `<root>/pod-cidr`), so an
   * agent restart does not lose it: the kubelet sends it again only when it changes.
   * Unset, it lives in memory only.
   */
  readonly podCidrFile?: string;
  readonly logger: Logger;
}

/** Attaches pods to the CNI network and detaches them. */
export class CniManager {
  readonly #conf: ConfDir;
  readonly #binDirs: readonly string[];
  readonly #timeoutMs: number;
  readonly #cache: AttachmentCache;
  readonly #logger: Logger;
  readonly #locks = new KeyedLock();
  #podCidrs: readonly string[] = [];
  readonly #podCidrFile: string | undefined;
  #loaded = "";

  /** Creates the manager; nothing is read until the first call. */
  constructor(opts: CniManagerOptions) {
    this.#conf = new ConfDir(opts.config.confDir);
    this.#binDirs = [...opts.config.binDirs];
    this.#timeoutMs = opts.config.pluginTimeoutSeconds * 1000;
    this.#cache = new AttachmentCache(opts.cacheDir);
    this.#logger = opts.logger.with({ component: "cni" });
    this.#podCidrFile = opts.podCidrFile;
  }

  /**
   * Takes back the pod CIDR the last agent kept (at start). A file that is missing is no
   * CIDR; one that does not parse is logged and ignored, not fatal: the kubelet sends the
   * CIDR again when it changes.
   */
  async restorePodCidr(): Promise<void> {
    if (!this.#podCidrFile) return;
    let text: string;
    try {
      text = await Deno.readTextFile(this.#podCidrFile);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    try {
      this.#setPodCidrs(text.trim());
      if (this.#podCidrs.length > 0) {
        this.#logger.info("pod CIDR restored", { podCidr: this.#podCidrs.join(",") });
      }
    } catch (err) {
      this.#logger.warn("ignoring the kept pod CIDR", { file: this.#podCidrFile, err });
    }
  }

  /**
   * The `NetworkReady` condition: ready when the conf dir holds a valid network config
   * whose plugins (and IPAM plugins) are all installed.
   */
  async status(): Promise<NetworkStatus> {
    let list: NetworkConfList;
    try {
      list = await this.#currentList();
    } catch (err) {
      return {
        ready: false,
        reason: NETWORK_NOT_READY_REASON,
        message: `Network plugin returns error: ${messageOf(err)}`,
      };
    }
    const missing: string[] = [];
    for (const p of effectivePlugins(list)) {
      for (const type of [p.type, ipamType(p)]) {
        if (type && !missing.includes(type) && !(await findPlugin(type, this.#binDirs))) {
          missing.push(type);
        }
      }
    }
    if (missing.length > 0) {
      return {
        ready: false,
        reason: NETWORK_NOT_READY_REASON,
        message: `Network plugin returns error: CNI plugin${missing.length > 1 ? "s" : ""} ` +
          `${missing.map((m) => `"${m}"`).join(", ")} of network "${list.name}" (${list.source}) ` +
          `not found in ${this.#binDirs.join(":")}`,
      };
    }
    return { ready: true };
  }

  /**
   * Attaches the pod: runs ADD through the network's plugins in order, chaining each result
   * into the next as `prevResult`. On any failure (including cancellation through `signal`)
   * runs DEL so that no veth, IPAM reservation or iptables rule stays, then throws, quoting
   * the plugin's own error.
   */
  async setUp(req: PodNetworkRequest, signal?: AbortSignal): Promise<PodNetworkResult> {
    validateRequest(req, true);
    return await this.#locks.run(req.podId, async () => {
      const log = this.#logger.with({ podId: req.podId });
      const existing = await this.#cache.read(req.podId);
      if (existing !== undefined) {
        const network = existing === "corrupt" ? "?" : existing.network;
        throw alreadyExists(
          `pod "${req.podId}" is already attached to CNI network "${network}"; tear it down first`,
        );
      }
      const list = await this.#currentList();
      const plugins = effectivePlugins(list);
      for (const p of plugins) {
        if (!(await findPlugin(p.type, this.#binDirs))) {
          throw failedPrecondition(
            `cannot attach pod "${req.podId}": CNI plugin "${p.type}" of network ` +
              `"${list.name}" (${list.source}) not found in ${this.#binDirs.join(":")}`,
          );
        }
      }
      if (!(await isLiveNamespace(req.netnsPath))) {
        throw failedPrecondition(
          `cannot attach pod "${req.podId}": ${req.netnsPath} is not a network namespace`,
        );
      }
      const att: Attachment = {
        podId: req.podId,
        state: "adding",
        network: list.name,
        cniVersion: list.cniVersion,
        plugins,
        source: list.source,
        ifName: POD_IFNAME,
        netnsPath: req.netnsPath,
        args: podCniArgs(req),
        caps: podCapabilityArgs(req, this.#podCidrs),
      };
      const t0 = performance.now();
      await this.#cache.write(att);
      let prev: unknown = undefined;
      try {
        for (const plugin of plugins) {
          prev = await this.#invoke("ADD", att, plugin, prev, signal, log);
        }
        const result = parseResult(prev);
        const ips = podIps(result, POD_IFNAME);
        if (ips.length === 0) {
          throw internal(
            `CNI network "${list.name}" returned no IP address for ${POD_IFNAME}: ` +
              JSON.stringify(prev),
          );
        }
        await this.#cache.write({ ...att, state: "added", result: prev });
        log.info("pod attached to CNI network", {
          network: list.name,
          ips,
          ms: Math.round(performance.now() - t0),
        });
        return { network: list.name, ips, interfaces: [...result.interfaces] };
      } catch (err) {
        let undo = "";
        try {
          await this.#delete(att, prev, log);
        } catch (delErr) {
          // The kubelet never stops a sandbox whose RunPodSandbox failed, so nobody would
          // retry this DEL; a record kept for it would only replay a config that may be the
          // very thing that is broken. Like containerd: report it loudly and forget.
          log.error("DEL after a failed ADD failed too; host-side state may remain", {
            error: delErr,
          });
          undo = `; cleaning up failed too: ${messageOf(delErr)}`;
          await this.#cache.remove(att.podId).catch((e) =>
            log.error("cannot remove CNI attachment record", { error: e })
          );
        }
        const e = wrap(err, `cannot attach pod "${req.podId}" to CNI network "${list.name}"`);
        if (undo) e.message += undo;
        throw e;
      }
    });
  }

  /**
   * Detaches the pod: runs DEL through the plugins recorded at ADD, in reverse order, with
   * the cached result as `prevResult`. Succeeds at once when the pod is not attached (a
   * repeated Stop/RemovePodSandbox). When the netns is already gone, DEL still runs with an
   * empty `CNI_NETNS`, as the spec allows, so host-side state (IPAM, iptables) is released.
   */
  async tearDown(req: PodNetworkTeardown): Promise<void> {
    validateRequest(req, false);
    await this.#locks.run(req.podId, async () => {
      const log = this.#logger.with({ podId: req.podId });
      let att = await this.#cache.read(req.podId);
      if (att === undefined) {
        log.debug("pod has no CNI attachment; nothing to tear down");
        return;
      }
      if (att === "corrupt") {
        log.warn("CNI attachment record is unreadable; running DEL with the current config");
        att = await this.#fallbackAttachment(req);
      }
      const t0 = performance.now();
      await this.#delete(att, att.result, log, req.netnsPath);
      log.info("pod detached from CNI network", {
        network: att.network,
        ms: Math.round(performance.now() - t0),
      });
    });
  }

  /**
   * Takes the node's pod CIDR from `UpdateRuntimeConfig` (comma-separated for dual stack).
   * Plugins declaring the `ipRanges` capability (host-local does) then allocate from it;
   * configs with a fixed subnet are unaffected. An empty string forgets it.
   */
  updatePodCidr(cidr: string): void {
    const before = this.#podCidrs.join(",");
    const parts = this.#setPodCidrs(cidr);
    if (parts.join(",") === before) return;
    this.#logger.info("pod CIDR updated", { podCidr: parts.join(",") });
    // Written after it is in force: a failed write leaves this run right and the file at
    // the previous value, and the caller hears of it.
    if (this.#podCidrFile) atomicWriteSync(this.#podCidrFile, `${parts.join(",")}\n`);
  }

  #setPodCidrs(cidr: string): string[] {
    const parts = cidr.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (parts.length > 2) {
      throw invalidArgument(`pod CIDR ${JSON.stringify(cidr)}: at most two (dual stack)`);
    }
    for (const p of parts) {
      if (!parseCidr(p)) throw invalidArgument(`pod CIDR ${JSON.stringify(p)} is not a CIDR`);
    }
    this.#podCidrs = parts;
    return parts;
  }

  /** The pod CIDRs last given to {@link updatePodCidr}. */
  get podCidrs(): readonly string[] {
    return this.#podCidrs;
  }

  /**
   * Pods with an attachment record: attached, or caught mid-ADD by an agent crash. Recovery
   * tears down those whose sandbox no longer exists.
   */
  async attachedPods(): Promise<string[]> {
    return await this.#cache.list();
  }

  async #currentList(): Promise<NetworkConfList> {
    const state = await this.#conf.load();
    if (state.kind !== "ready") {
      if (this.#loaded !== state.message) {
        this.#logger.warn("no usable CNI network config", { reason: state.message });
        this.#loaded = state.message;
      }
      throw failedPrecondition(`cni config not loaded: ${state.message}`);
    }
    const id = `${state.list.source}:${state.list.name}`;
    if (this.#loaded !== id) {
      this.#logger.info("CNI network config loaded", {
        source: state.list.source,
        network: state.list.name,
        cniVersion: state.list.cniVersion,
      });
      this.#loaded = id;
    }
    return state.list;
  }

  async #invoke(
    command: "ADD" | "DEL",
    att: Attachment,
    plugin: PluginConf,
    prevResult: unknown,
    signal: AbortSignal | undefined,
    log: Logger,
    netns = att.netnsPath,
  ): Promise<unknown> {
    const t0 = performance.now();
    const out = await invokePlugin({
      command,
      list: { name: att.network, cniVersion: att.cniVersion },
      plugin,
      binDirs: this.#binDirs,
      containerId: att.podId,
      netns,
      ifName: att.ifName,
      args: att.args,
      caps: att.caps,
      prevResult,
      timeoutMs: this.#timeoutMs,
      signal,
    });
    log.debug("CNI plugin done", {
      command,
      plugin: plugin.type,
      ms: Math.round(performance.now() - t0),
      ...(out.stderr ? { stderr: out.stderr } : {}),
    });
    return out.result;
  }

  /**
   * DEL through every plugin in reverse order, then forget the record. Unlike libcni, a
   * failing plugin does not stop the others: DEL is idempotent, and halting would strand
   * the IPAM reservation of `bridge` behind, say, a broken `portmap`. The first failure is
   * thrown after all ran, and the record is kept for the next attempt.
   */
  async #delete(att: Attachment, result: unknown, log: Logger, netnsHint?: string): Promise<void> {
    const path = att.netnsPath || netnsHint || "";
    const netns = (await isLiveNamespace(path)) ? path : "";
    if (path && !netns) log.debug("netns is gone; DEL runs without CNI_NETNS", { netns: path });
    // prevResult on DEL arrived with spec 0.4.0; older plugins would reject the field.
    const prev = result !== undefined && compareVersions(att.cniVersion, "0.4.0") >= 0
      ? result
      : undefined;
    let first: unknown;
    for (const plugin of [...att.plugins].reverse()) {
      try {
        await this.#invoke("DEL", att, plugin, prev, undefined, log, netns);
      } catch (err) {
        log.warn("CNI DEL failed", { plugin: plugin.type, error: err });
        first ??= err;
      }
    }
    if (first !== undefined) {
      throw wrap(first, `cannot detach pod "${att.podId}" from CNI network "${att.network}"`);
    }
    await this.#cache.remove(att.podId);
  }

  async #fallbackAttachment(req: PodNetworkTeardown): Promise<Attachment> {
    const list = await this.#currentList();
    const args: CniArgs = req.name !== undefined && req.namespace !== undefined &&
        req.uid !== undefined
      ? podCniArgs(req as PodNetworkRequest)
      : [["IgnoreUnknown", "1"], ["K8S_POD_INFRA_CONTAINER_ID", req.podId]];
    return {
      podId: req.podId,
      state: "adding",
      network: list.name,
      cniVersion: list.cniVersion,
      plugins: effectivePlugins(list),
      source: list.source,
      ifName: POD_IFNAME,
      netnsPath: req.netnsPath ?? "",
      args,
      caps: req.portMappings ? podCapabilityArgs(req as PodNetworkRequest, this.#podCidrs) : {},
    };
  }
}

function ipamType(p: PluginConf): string | undefined {
  const ipam = p["ipam"];
  if (typeof ipam !== "object" || ipam === null) return undefined;
  const t = (ipam as Record<string, unknown>)["type"];
  return typeof t === "string" && t !== "" && !t.includes("/") ? t : undefined;
}
