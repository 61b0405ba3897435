/**
 * The runtime: pods and containers on runc, each container supervised by its own shim.
 *
 * {@link Runtime} is the facade the CRI handlers call; each operation lives in its own
 * module (`sandbox_run.ts`, `container_create.ts`, …) as a function of {@link RuntimeCore}.
 *
 * @module
 */
import type {
  Container as CriContainer,
  ContainerConfig,
  ContainerEventResponse,
  ContainerFilter,
  ContainerStatus,
  LinuxContainerResources,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
} from "../api/gen/api.ts";
import { RuntimeCore, type RuntimeDeps } from "./core.ts";
import type { Subscription } from "./events.ts";
import { runPodSandbox } from "./pod/run.ts";
import { stopPodSandbox } from "./pod/stop.ts";
import { removePodSandbox } from "./pod/remove.ts";
import { createContainer } from "./container/create.ts";
import { startContainer } from "./container/start.ts";
import { stopContainer } from "./container/stop.ts";
import { removeContainer } from "./container/remove.ts";
import { execSync, type ExecSyncResult } from "./container/exec_sync.ts";
import { reopenContainerLog, updateContainerResources } from "./container/update.ts";
import { recover, type RecoveryReport } from "./recovery.ts";
import { refillPool } from "./spare_shims.ts";
import {
  containerStatus,
  listContainers,
  listPodSandboxes,
  podSandboxInfo,
  podSandboxStatus,
} from "./views.ts";

export type { RuntimeDeps } from "./core.ts";
export type { CgroupPort } from "./core.ts";
export type { ExecSyncResult } from "./container/exec_sync.ts";
export type { RecoveryReport } from "./recovery.ts";

/** The runtime facade. */
export class Runtime {
  /** Shared state, for the stats and streaming adapters. */
  readonly core: RuntimeCore;

  constructor(deps: RuntimeDeps) {
    this.core = new RuntimeCore(deps);
    this.core.eventStatuses = (sandboxId) => {
      const s = this.core.sandboxes.get(sandboxId);
      return {
        podSandboxStatus: s ? podSandboxStatus(s) : undefined,
        containersStatuses: this.core.containersOf(sandboxId).map(containerStatus),
      };
    };
    deps.images.setInUse((id) => this.core.imageInUse(id));
  }

  /** Rebuilds state from disk and reconciles with the machine (once, at start). */
  async recover(): Promise<RecoveryReport> {
    const report = await recover(this.core);
    refillPool(this.core);
    return report;
  }

  /** RunPodSandbox. */
  runPodSandbox(config: PodSandboxConfig, handler: string, signal?: AbortSignal): Promise<string> {
    return runPodSandbox(this.core, config, handler, signal);
  }
  /** StopPodSandbox. */
  stopPodSandbox(id: string): Promise<void> {
    return stopPodSandbox(this.core, id);
  }
  /** RemovePodSandbox. */
  removePodSandbox(id: string): Promise<void> {
    return removePodSandbox(this.core, id);
  }
  /** PodSandboxStatus, with the verbose info map when asked. */
  podSandboxStatus(
    id: string,
    verbose: boolean,
  ): { status: PodSandboxStatus; info: Record<string, string>; containers: ContainerStatus[] } {
    const s = this.core.sandbox(id);
    return {
      status: podSandboxStatus(s),
      info: verbose ? podSandboxInfo(s) : {},
      containers: this.core.containersOf(s.doc.id).map(containerStatus),
    };
  }
  /** ListPodSandbox. */
  listPodSandbox(filter?: PodSandboxFilter): PodSandbox[] {
    return listPodSandboxes(this.core, filter);
  }

  /** CreateContainer. */
  createContainer(
    sandboxId: string,
    config: ContainerConfig,
    sandboxConfig: PodSandboxConfig | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    return createContainer(this.core, sandboxId, config, sandboxConfig, signal);
  }
  /** StartContainer. */
  startContainer(id: string): Promise<void> {
    return startContainer(this.core, id);
  }
  /** StopContainer. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    return stopContainer(this.core, id, timeoutSeconds);
  }
  /** RemoveContainer. */
  removeContainer(id: string): Promise<void> {
    return removeContainer(this.core, id);
  }
  /** ContainerStatus, with the verbose info map when asked. */
  async containerStatus(
    id: string,
    verbose: boolean,
  ): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
    const c = this.core.container(id);
    const info: Record<string, string> = {};
    if (verbose) {
      const spec = await Deno.readTextFile(`${c.doc.bundle}/config.json`).catch(() => "null");
      info.info = JSON.stringify({
        sandboxID: c.doc.sandboxId,
        pid: c.doc.pid,
        bundle: c.doc.bundle,
        rootfs: c.doc.rootfs,
        cgroupsPath: c.doc.cgroupsPath,
        runtimeSpec: JSON.parse(spec),
      });
    }
    return { status: containerStatus(c), info };
  }
  /** ListContainers. */
  listContainers(filter?: ContainerFilter): CriContainer[] {
    return listContainers(this.core, filter);
  }
  /** ExecSync. */
  execSync(
    id: string,
    cmd: string[],
    timeoutSeconds: number,
    signal?: AbortSignal,
  ): Promise<ExecSyncResult> {
    return execSync(this.core, id, cmd, timeoutSeconds, signal);
  }
  /** UpdateContainerResources. */
  updateContainerResources(id: string, linux: LinuxContainerResources | undefined): Promise<void> {
    return updateContainerResources(this.core, id, linux);
  }
  /** ReopenContainerLog. */
  reopenContainerLog(id: string): Promise<void> {
    return reopenContainerLog(this.core, id);
  }
  /** GetContainerEvents: a subscription ended by `signal`. */
  events(signal?: AbortSignal): Subscription<ContainerEventResponse> {
    return this.core.events.subscribe(signal);
  }

  /** Stops the shims started ahead of containers (the containers' own shims keep running). */
  stopSpareShims(): Promise<void> {
    return this.core.deps.shims.dropSpares();
  }

  /** Drops connections to shims (they keep running) and closes the store. */
  close(): void {
    for (const c of this.core.containers.values()) c.shim?.close();
    for (const s of this.core.sandboxes.values()) s.pauseShim?.close();
    this.core.deps.store.close();
  }
}
