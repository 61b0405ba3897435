/**
 * The two runtimes under test, started side by side from the same inputs: containerd 1.6
 * (its CRI plugin, runc v2 shims) and the sauropod agent, each under its own directory with
 * its own CRI socket, runc root, CNI network and log file, driven by the same CRI client.
 *
 * ```ts
 * const rt = new BenchRuntime("containerd", { runDir, registryHost, pauseImage, network, log });
 * await rt.start();
 * await rt.cri.runtime.version({});
 * await rt.close();   // removes its pods and stops the daemon
 * ```
 *
 * @module
 */
import { unavailable } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { CriClient } from "../tests/harness/cri_client.ts";
import { type CriCalls, ProcessCriClient } from "./_process_client.ts";
import { benchConflist, DEFAULT_CONFLIST, type NetworkIdentity } from "./_cni.ts";
import { containerdConfig, containerdLayout, registryHosts } from "./_containerd.ts";
import { Daemon } from "./_daemon.ts";
import { listProcesses, type ProcessInfo } from "./_proc.ts";
import { sauropodConfig, sauropodLayout } from "./_sauropod.ts";
import type { RuntimeName } from "./report.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Binaries both runtimes use. */
export const RUNC = "/usr/sbin/runc";
/** CNI plugins directory (Debian's containernetworking-plugins). */
export const CNI_BIN_DIR = "/usr/lib/cni";
/** The containerd binary (Debian's package). */
export const CONTAINERD = "/usr/bin/containerd";

/** What both runtimes are set up from. */
export interface RuntimeSetup {
  /** The run's directory; each runtime lives in `<runDir>/<name>`. */
  readonly runDir: string;
  /** `host:port` of the local registry. */
  readonly registryHost: string;
  /** The sandbox (pause) image, in the local registry. */
  readonly pauseImage: string;
  /** This runtime's pod network. */
  readonly network: NetworkIdentity;
  readonly log: Logger;
  /** The kubelet's pod log root (default: `<runtime dir>/logs`). */
  readonly podLogRoot?: string;
  /**
   * The sauropod checkout whose agent runs (default: this one): a baseline commit's tree
   * (`git archive <commit> | tar -x`) to measure a change against containerd in the same
   * way as the change itself.
   */
  readonly agentRoot?: string;
  /** How workloads' calls are made (default: one in-process connection). */
  readonly client?: "inprocess" | "process";
}

/** sauropod's volatile state: short, because shim socket paths grow from it (see layout). */
export function sauropodStateDir(runDir: string): string {
  return `${runDir}/s`;
}

interface Flavour {
  readonly socket: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly daemon: Daemon;
  /** Where the content store keeps blob `digest`. */
  blobPath(digest: string): string;
  /** Writes config files before the first start. */
  prepare(): Promise<void>;
  /** Whether `p` is one of this runtime's shims. */
  isShim(p: ProcessInfo): boolean;
}

/** One runtime under test. */
export class BenchRuntime {
  readonly name: RuntimeName;
  readonly dir: string;
  readonly socket: string;
  readonly runcRoot: string;
  readonly network: NetworkIdentity;
  /** Where its pods' log directories go (sauropod's `runtime.pod_logs_dir`). */
  readonly podLogRoot: string;
  readonly #flavour: Flavour;
  readonly #log: Logger;
  readonly #client: "inprocess" | "process";
  #cri: CriClient | undefined;
  #calls: CriCalls | undefined;
  #prepared = false;

  /** Describes the runtime; nothing runs until {@link start}. */
  constructor(name: RuntimeName, setup: RuntimeSetup) {
    this.name = name;
    this.dir = `${setup.runDir}/${name}`;
    this.network = setup.network;
    this.podLogRoot = setup.podLogRoot ?? `${this.dir}/logs`;
    this.#log = setup.log.with({ runtime: name });
    this.#client = setup.client ?? "inprocess";
    this.#flavour = name === "containerd"
      ? containerdFlavour(this.dir, setup)
      : sauropodFlavour(this.dir, setup, this.podLogRoot);
    this.socket = this.#flavour.socket;
    this.runcRoot = this.#flavour.runcRoot;
  }

  /**
   * The CRI client workloads call: one connection like the kubelet's, or with `--client
   * process` a new process per call like crictl.
   */
  get cri(): CriCalls {
    if (!this.#calls) throw unavailable(`${this.name} is not running`);
    return this.#calls;
  }

  /** The daemon's pid. */
  get pid(): number {
    return this.#flavour.daemon.pid;
  }

  /** Whether the daemon is up. */
  get running(): boolean {
    return this.#cri !== undefined;
  }

  /** Starts the daemon (writing its config the first time) and connects. */
  async start(): Promise<void> {
    if (!this.#prepared) {
      await Deno.mkdir(this.dir, { recursive: true, mode: 0o755 });
      await Deno.mkdir(this.#flavour.cniConfDir, { recursive: true });
      const base = JSON.parse(await Deno.readTextFile(DEFAULT_CONFLIST));
      await Deno.writeTextFile(
        `${this.#flavour.cniConfDir}/10-${this.network.name}.conflist`,
        JSON.stringify(benchConflist(base, this.network), null, 2),
      );
      await this.#flavour.prepare();
      this.#prepared = true;
    }
    this.#cri = await this.#flavour.daemon.start();
    this.#calls = this.#client === "process" ? new ProcessCriClient(this.socket) : this.#cri;
    this.#log.debug("daemon up", { pid: this.pid });
  }

  /** Stops the daemon with SIGTERM; its shims and containers keep running. */
  async stopDaemon(): Promise<void> {
    this.#cri?.close();
    this.#cri = undefined;
    this.#calls = undefined;
    await this.#flavour.daemon.stop();
  }

  /** Pids of the runtime's shim processes. */
  async shimPids(): Promise<number[]> {
    return (await listProcesses()).filter((p) => this.#flavour.isShim(p)).map((p) => p.pid);
  }

  /**
   * Pids of the shims that supervise a container. sauropod also keeps a spare shim started
   * ahead (no container yet, so no `init.pid`); an agent restart replaces it by design.
   */
  async containerShimPids(): Promise<number[]> {
    const out: number[] = [];
    for (const p of await listProcesses()) {
      if (!this.#flavour.isShim(p)) continue;
      const i = p.argv.indexOf("--state-dir");
      const dir = i >= 0 ? p.argv[i + 1] : undefined;
      if (dir && !(await Deno.stat(`${dir}/init.pid`).then(() => true, () => false))) continue;
      out.push(p.pid);
    }
    return out;
  }

  /** Whether the content store holds blob `digest` (`sha256:<hex>`). */
  async hasBlob(digest: string): Promise<boolean> {
    return await Deno.stat(this.#flavour.blobPath(digest)).then(() => true, () => false);
  }

  /** Stops and removes every pod (RemovePodSandbox also removes its containers). */
  async removeAllPods(): Promise<void> {
    // Teardown is not measured: the daemon's own connection, whatever the client mode.
    const cri = this.#cri;
    if (!cri) throw unavailable(`${this.name} is not running`);
    const { items } = await cri.runtime.listPodSandbox({});
    const queue = [...items];
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        await cri.runtime.stopPodSandbox({ podSandboxId: p.id });
        await cri.runtime.removePodSandbox({ podSandboxId: p.id });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  }

  /** The daemon's log file (in the run dir, removed with it). */
  get logPath(): string {
    return this.#flavour.daemon.spec.logPath;
  }

  /** The last lines of the daemon's log. */
  logTail(lines = 30): Promise<string> {
    return this.#flavour.daemon.tail(lines);
  }

  /** Removes every pod (best effort) and stops the daemon. */
  async close(): Promise<void> {
    if (this.#calls) {
      try {
        await this.removeAllPods();
      } catch (err) {
        this.#log.warn("could not remove every pod before stopping", { err });
      }
    }
    await this.stopDaemon();
  }
}

function containerdFlavour(dir: string, setup: RuntimeSetup): Flavour {
  const l = containerdLayout(dir);
  return {
    socket: l.socket,
    runcRoot: l.runcRoot,
    cniConfDir: l.cniConfDir,
    daemon: new Daemon({
      name: "containerd",
      argv: [CONTAINERD, "--config", l.configPath],
      socket: l.socket,
      logPath: l.logPath,
    }),
    blobPath: (d) => `${l.root}/io.containerd.content.v1.content/blobs/${d.replace(":", "/")}`,
    async prepare() {
      for (const d of [l.root, l.state, l.tmp, l.certsDir]) {
        await Deno.mkdir(d, { recursive: true, mode: 0o711 });
      }
      await Deno.writeTextFile(
        l.configPath,
        containerdConfig({
          layout: l,
          sandboxImage: setup.pauseImage,
          cniBinDir: CNI_BIN_DIR,
          runcBinary: RUNC,
        }),
      );
      for (const [rel, text] of Object.entries(registryHosts(setup.registryHost))) {
        const path = `${l.certsDir}/${rel}`;
        await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
        await Deno.writeTextFile(path, text);
      }
    },
    isShim: (p) => {
      if (!(p.argv[0] ?? "").endsWith("containerd-shim-runc-v2")) return false;
      const i = p.argv.indexOf("-address");
      return i >= 0 && p.argv[i + 1] === l.socket;
    },
  };
}

function sauropodFlavour(dir: string, setup: RuntimeSetup, podLogsDir: string): Flavour {
  const l = sauropodLayout(dir, sauropodStateDir(setup.runDir));
  const agentRoot = setup.agentRoot ?? ROOT;
  return {
    socket: l.socket,
    runcRoot: l.runcRoot,
    cniConfDir: l.cniConfDir,
    daemon: new Daemon({
      name: "sauropod",
      // As an operator runs it: the agent's declared permission set, never -A; the agent
      // computes its own from the config (its directories live in the run directory).
      argv: [
        Deno.execPath(),
        "run",
        "-P=agent",
        "--quiet",
        `${agentRoot}/main.ts`,
        "serve",
        "--config",
        l.configPath,
      ],
      cwd: agentRoot,
      socket: l.socket,
      logPath: l.logPath,
      env: { NO_COLOR: "1" },
    }),
    blobPath: (d) => `${l.root}/images/blobs/${d.replace(":", "/")}`,
    async prepare() {
      await Deno.writeTextFile(
        l.configPath,
        sauropodConfig({
          layout: l,
          sandboxImage: setup.pauseImage,
          cniBinDir: CNI_BIN_DIR,
          runcBinary: RUNC,
          registryHost: setup.registryHost,
          podLogsDir,
        }),
      );
    },
    isShim: (p) => {
      if (!p.argv.includes("shim")) return false;
      const i = p.argv.indexOf("--state-dir");
      return i >= 0 && (p.argv[i + 1] ?? "").startsWith(`${l.shims}/`);
    },
  };
}
