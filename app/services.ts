/**
 * The composition root: builds every service from the config and hands them to the CRI
 * server (whose table maps each RPC to its handler). Nothing registers itself at import
 * time; this file is where the parts meet.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { messageOf } from "../errors/mod.ts";
import { createCriServer, criRpcPaths } from "../cri/server.ts";
import { MetricsSwitch } from "./metrics.ts";
import { VERSION } from "../version.ts";
import { secureSocket } from "./socket.ts";
import type { Readiness } from "../cri/runtime/status.ts";
import type { GrpcServer } from "../lib/grpc/mod.ts";
import { StatsService } from "../runtime/stats.ts";
import { streamingBackend } from "../runtime/streaming_backend.ts";
import { NetnsDialer, StreamingServer } from "../streaming/mod.ts";
import { RuntimeCore } from "../runtime/core.ts";
import { recover } from "../runtime/recovery.ts";
import { stopPoolTimers } from "../runtime/spare_shims.ts";
import { MetadataStore } from "../store/mod.ts";
import { tightenModes } from "../runtime/modes.ts";
import { ImageService } from "../image/mod.ts";
import { bundleShim, ShimManager } from "../shim/client/mod.ts";
import { CniManager } from "../network/mod.ts";
import { cgroupPort } from "../runtime/cgroup_port.ts";
import {
  cgroupDriver,
  controllerVersion,
  detectLayout,
  kernelHasPsi,
  StatsCollector,
} from "../cgroups/mod.ts";
import { capabilitiesFromMask, type NodeFacts } from "../oci/mod.ts";
import { AppArmor, detectSelinux } from "../lsm/mod.ts";
import { probeRuntimeBinary } from "./probe.ts";
import { probeHandlers } from "./handler_probe.ts";
import { CheckpointProbe, probeCheckpoint } from "../checkpoint/mod.ts";
import { SystemdNotifier, type Watchdog } from "./notify.ts";
import { criSelfCheck } from "./health.ts";
import type { Appliers } from "./reload.ts";
// Deno grants /proc, /sys and /dev only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";

/** The running agent's parts, as the lifecycle sees them. */
export interface Services {
  server: GrpcServer;
  /**
   * The metrics and their `/metrics` endpoint. A config reload applies a new `[metrics]
   * address` with `metrics.setAddress(address)` after `checkMetricsAddress`: it loads the
   * metrics on first use, rebinds in place, and keeps serving where it was if the new address
   * fails.
   */
  metrics: MetricsSwitch;
  /** Runs once the socket accepts calls (READY=1 to systemd). */
  afterListen(): Promise<void>;
  /** Runs when a stop signal arrives, before the server drains (STOPPING=1). */
  beforeShutdown(): Promise<void>;
  /** Releases everything; shims and containers keep running. */
  close(): Promise<void>;
  /** How a configuration reload (SIGHUP) reaches the running parts, per reloadable key. */
  appliers: Appliers;
}

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;

/** Builds the services for `config`. */
export async function buildServices(config: Config, log: Logger): Promise<Services> {
  // First: systemd's variables must be gone before any child (runc, CNI, shims) starts.
  const notifier = SystemdNotifier.fromEnv({ logger: log.with({ component: "systemd" }) });
  // 0711 when made (state holds the CRI socket); everything per pod or container below them is
  // root's only, and what an older agent left looser is tightened before anything is served.
  await Deno.mkdir(config.root, { recursive: true, mode: 0o711 });
  await Deno.mkdir(config.state, { recursive: true, mode: 0o711 });
  await tightenModes(config, log.with({ component: "modes" }));

  const layout = await detectLayout();
  const driver = cgroupDriver(config.runtime.cgroupDriver);
  const proc = await procSelf();
  const oom = {
    restrict: config.runtime.restrictOomScoreAdj === "true" ||
      (config.runtime.restrictOomScoreAdj === "auto" && !proc.capSysResource),
    agentScore: proc.oomScoreAdj,
  };
  if (oom.restrict) {
    log.info("restricting container oom_score_adj to the agent's own", {
      agentScore: oom.agentScore,
      why: config.runtime.restrictOomScoreAdj === "auto" ? "no CAP_SYS_RESOURCE" : "configured",
    });
  }
  const node: NodeFacts = {
    cgroupVersion: controllerVersion(layout, "memory") ?? 1,
    swapAccounting: await swapAccounting(layout),
    ...await hugetlbFacts(layout, controllerVersion(layout, "memory") ?? 1),
    recursiveReadOnlyMounts: false,
    arch: Deno.build.arch,
    selinux: await detectSelinux(),
  };
  // What container resources can ask for here (others are refused naming the field).
  log.info("container cgroups", {
    version: node.cgroupVersion,
    swapAccounting: node.swapAccounting,
    hugepageSizes: node.hugetlb ? node.hugepageSizes ?? "unknown" : "no hugetlb controller",
    cdiSpecDirs: config.cdi.specDirs,
  });
  const apparmor = await AppArmor.open({
    logger: log.with({ component: "apparmor" }),
    timeoutMs: config.runtime.callTimeoutSeconds * 1000,
  });
  log.info(
    apparmor.facts.enabled
      ? "AppArmor is enabled: containers run under sauropod's default profile unless they ask otherwise"
      : "AppArmor is not enabled: RuntimeDefault runs unconfined, Localhost profiles are refused",
    { ...apparmor.info(), selinux: node.selinux },
  );

  // What each runtime handler can do, probed once: Status advertises it, specs rely on it.
  const handlers = await probeHandlers(config, log.with({ component: "handlers" }));

  // Off, and not even loaded, until an address is set: each hook below is one `?.` test.
  // Its readings of the runtime run only when scraped, after `core` exists.
  const metrics = new MetricsSwitch({
    logger: log.with({ component: "metrics" }),
    rpcs: criRpcPaths(),
    version: VERSION,
    secureUnixSocket: (path) => secureSocket(path, config.socketGroup),
    sources: {
      containers: () => {
        const n = { created: 0, running: 0, exited: 0, unknown: 0 };
        for (const c of core.containers.values()) n[c.doc.state]++;
        return n;
      },
      pods: () => {
        const n = { ready: 0, notready: 0 };
        for (const p of core.sandboxes.values()) n[p.doc.state]++;
        return n;
      },
      shims: () => {
        let container = 0;
        let pause = 0;
        for (const c of core.containers.values()) if (c.shim) container++;
        for (const p of core.sandboxes.values()) if (p.pauseShim) pause++;
        return { container, pause, spare: shims.spares };
      },
      oomKills: () => core.counters.oomKills,
      eventsDropped: () => core.events.dropped,
      shimsLost: () => core.counters.shimsLost,
      shimsReconnected: () => core.counters.shimsReconnected,
    },
  });
  const store = MetadataStore.open(`${config.root}/sauropod.db`);
  const images = await ImageService.open({
    root: config.root,
    config: config.image,
    logger: log.with({ component: "images" }),
    pinned: [config.sandbox.image],
    observer: metrics.imageObserver(),
  });
  const shims = new ShimManager({
    stateRoot: `${config.state}/shims`,
    entry: await shimEntry(config.state, log),
    logger: log.with({ component: "shims" }),
    shimLogLevel: config.log.level,
  });
  const cni = new CniManager({
    config: config.cni,
    cacheDir: `${config.root}/cni`,
    podCidrFile: `${config.root}/pod-cidr`,
    logger: log.with({ component: "cni" }),
    onOperation: (op, seconds, ok) => metrics.metrics?.recordCni(op, seconds, ok),
  });
  // CRIU and the default handler's runtime; a pod on another handler is checked when it asks.
  const checkpoint = new CheckpointProbe(() => probeCheckpoint(handlers.default.binary));
  await cni.restorePodCidr();
  const core = new RuntimeCore({
    config,
    logger: log,
    store,
    images,
    shims,
    cni,
    cgroups: cgroupPort(layout, driver),
    handlers,
    oom,
    agentCapabilities: proc.capBnd,
    node,
    apparmor,
    checkpoint: { capability: () => checkpoint.get() },
  });
  await recover(core);
  // stats.collect_period_seconds > 0: background rounds fill the cache that the calls read,
  // kept for two periods so a call between rounds never reads cgroups itself.
  const period = config.stats.collectPeriodSeconds * 1000;
  const collector = new StatsCollector({
    logger: log.with({ component: "stats" }),
    ...(period > 0 ? { cacheTtlMs: 2 * period } : {}),
  });
  const stats = new StatsService(core, layout, driver, {
    collector,
    psi: kernelHasPsi(),
    ...(period > 0 ? { cacheTtlMs: 2 * period } : {}),
  });
  if (period > 0) stats.startBackground(period);
  const dialer = new NetnsDialer({ logger: log.with({ component: "portforward" }) });
  const streaming = new StreamingServer({
    address: config.stream.address,
    port: config.stream.port,
    tokenTtlMs: config.stream.tokenTtlSeconds * 1000,
    idleTimeoutMs: config.stream.idleTimeoutSeconds * 1000,
    headTimeoutMs: config.stream.headTimeoutSeconds * 1000,
    maxConnections: config.stream.maxConnections,
    maxConnectionsPerSource: config.stream.maxConnectionsPerSource,
    maxUnauthenticatedConnections: config.stream.maxUnauthenticatedConnections,
    backend: streamingBackend(core, dialer),
    logger: log.with({ component: "streaming" }),
  });
  await streaming.start();
  try {
    await metrics.setAddress(config.metrics.address);
  } catch (err) {
    await streaming.close();
    throw err;
  }

  const runtimeReady = cached(10_000, async (): Promise<Readiness> => {
    const probe = await probeRuntimeBinary(handlers.default.binary);
    return probe.ok
      ? { ready: true }
      : { ready: false, reason: "RuntimeBinaryUnavailable", message: probe.message };
  });
  const networkReady = async (): Promise<Readiness> => {
    try {
      const st = await cni.status();
      return st.ready ? { ready: true } : {
        ready: false,
        reason: st.reason ?? "NetworkPluginNotReady",
        message: st.message ?? "",
      };
    } catch (err) {
      return { ready: false, reason: "NetworkPluginNotReady", message: messageOf(err) };
    }
  };

  const server = createCriServer({
    logger: log,
    maxRecvMessageBytes: config.limits.maxRecvMessageBytes,
    maxSendMessageBytes: config.limits.maxSendMessageBytes,
    maxConcurrentCalls: config.limits.maxConcurrentCalls,
    onCall: (path, code, seconds) => metrics.metrics?.recordRpc(path, code, seconds),
    deps: {
      config,
      core,
      stats,
      streaming,
      images,
      status: {
        runtimeReady,
        networkReady,
        info: async () => ({
          checkpoint: await checkpoint.get(),
          cgroupLayout: layout.mode,
          cgroupDriver: driver.name,
          oom,
          node,
          apparmor: apparmor.info(),
          selinux: {
            enabled: node.selinux,
            labels: node.selinux
              ? "not applied: SELinux options and relabel requests are refused"
              : "not applied: SELinux options are ignored (SELinux is not enabled)",
          },
          streamServer: streaming.baseUrl,
        }),
      },
      setPodCidr: (cidr) => cni.updatePodCidr(cidr),
    },
  });

  let watchdog: Watchdog | undefined;
  const registries = (next: Config) => images.updateRegistries(next.image);
  return {
    server,
    metrics,
    appliers: {
      "image.mirrors": registries,
      "image.auths": registries,
      "image.insecure_registries": registries,
      // The agent's own lines; shims keep the level they were started with.
      "log.level": (next) => log.setLevel(next.log.level),
      // Rebinds in place; a bind that fails keeps the old endpoint serving and says so. A unix
      // socket in a directory the agent was not started with needs a restart (its permissions).
      "metrics.address": (next) => {
        const address = next.metrics.address;
        metrics.setAddress(address).then(
          () => log.info("metrics address reloaded", { address, endpoint: metrics.endpoint }),
          (err) =>
            log.error("cannot serve metrics at the reloaded address; the old endpoint stays", {
              address,
              endpoint: metrics.endpoint,
              err,
            }),
        );
      },
    },
    afterListen: () => {
      notifier.ready(`serving the CRI on ${config.socket}`);
      watchdog = notifier.startWatchdog((budgetMs) => criSelfCheck(config.socket, budgetMs));
      return Promise.resolve();
    },
    beforeShutdown: async () => {
      // The last keep-alive must come before STOPPING=1, never after.
      await watchdog?.stop();
      notifier.stopping("shutting down: draining in-flight calls");
    },
    close: async () => {
      await metrics.close();
      stats.stopBackground();
      await streaming.close();
      stopPoolTimers(core);
      await core.deps.shims.dropSpares().catch((err) =>
        log.warn("cannot stop the spare shims", { err })
      );
      dialer.close();
      core.close();
      images.close();
    },
  };
}

/**
 * The shims' entry module: the shim code bundled into one file under the state dir (a
 * shim then loads one module instead of ~30: 1.7 MB less memory each and a faster start,
 * measured), else `main.ts shim`. Bundled anew at every start (≈ 80 ms), so an upgraded
 * agent's new shims run the new code; running shims have already read theirs.
 */
async function shimEntry(state: string, log: Logger): Promise<string> {
  try {
    return await bundleShim(`${state}/shim.js`);
  } catch (err) {
    log.warn("cannot bundle the shim; shims load main.ts instead", { err });
    return MAIN_TS;
  }
}

/** The agent's own capabilities and oom_score_adj. */
async function procSelf(): Promise<
  { capBnd: string[]; capSysResource: boolean; oomScoreAdj: number }
> {
  const status = await kernfs.readTextFile("/proc/self/status").catch(() => "");
  const field = (name: string) =>
    status.match(new RegExp(`^${name}:\\s*([0-9a-f]+)`, "m"))?.[1] ?? "0";
  const capEff = BigInt(`0x${field("CapEff")}`);
  const oomScoreAdj = Number(
    (await kernfs.readTextFile("/proc/self/oom_score_adj").catch(() => "0")).trim(),
  );
  return {
    capBnd: capabilitiesFromMask(field("CapBnd")),
    capSysResource: ((capEff >> 24n) & 1n) === 1n,
    oomScoreAdj: Number.isFinite(oomScoreAdj) ? oomScoreAdj : 0,
  };
}

/** Whether the memory cgroup accounts swap (memsw on v1, memory.swap.max on v2). */
/**
 * Whether runc can limit huge pages, and of which sizes: the hugetlb controller must sit in
 * the hierarchy runc manages (on a hybrid node a v2-only hugetlb is out of its reach), and
 * the sizes are the node's (`/sys/kernel/mm/hugepages`), named as runc names them.
 */
async function hugetlbFacts(
  layout: Awaited<ReturnType<typeof detectLayout>>,
  version: 1 | 2,
): Promise<Pick<NodeFacts, "hugetlb" | "hugepageSizes">> {
  const present = version === 1
    ? layout.v1.has("hugetlb")
    : layout.unified?.controllers.includes("hugetlb") ?? false;
  if (!present) return { hugetlb: false };
  const sizes: string[] = [];
  try {
    for await (const e of kernfs.readDir("/sys/kernel/mm/hugepages")) {
      const kb = e.name.match(/^hugepages-(\d+)kB$/)?.[1];
      if (kb) sizes.push(pageSizeName(Number(kb) * 1024));
    }
  } catch {
    return { hugetlb: true };
  }
  return { hugetlb: true, hugepageSizes: sizes.sort() };
}

/** 2097152 → "2MB", as runc's HugePageSizes (go-units CustomSize, base 1024). */
function pageSizeName(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let v = bytes;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v}${units[i]}`;
}

async function swapAccounting(layout: Awaited<ReturnType<typeof detectLayout>>): Promise<boolean> {
  const v1 = layout.v1.get("memory");
  if (v1) return await exists(`${v1.dir}/memory.memsw.limit_in_bytes`);
  if (!layout.unified) return false;
  const self = (await kernfs.readTextFile("/proc/self/cgroup").catch(() => "")).match(/^0::(.*)$/m)
    ?.[1];
  return self
    ? await exists(`${layout.unified.dir}${self === "/" ? "" : self}/memory.swap.max`)
    : false;
}

async function exists(path: string): Promise<boolean> {
  try {
    await kernfs.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Memoises an async probe for `ms` milliseconds. */
function cached<T>(ms: number, fn: () => Promise<T>): () => Promise<T> {
  let at = -Infinity;
  let value: Promise<T> | undefined;
  return () => {
    const now = performance.now();
    if (!value || now - at > ms) {
      at = now;
      value = fn();
    }
    return value;
  };
}
