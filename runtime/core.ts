/**
 * The runtime's shared state: pods and containers in memory, their persistence, per-id
 * locks, the event bus, and the services the operations use. Each CRI operation lives in
 * its own file (`pod/run.ts`, `container/create.ts`, …) as a function of this core, the
 * way containerd keeps one file per RPC; the CRI adapters call them directly.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { failedPrecondition, invalidArgument, notFound } from "../errors/mod.ts";
import type { ContainerEventResponse } from "../api/gen/api.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import { EventBus } from "./events.ts";
import { resolvePrefix } from "./ids.ts";
import type { Container, Sandbox } from "./records.ts";
import type { CgroupPort, CniPort, ImagePort, ShimPort, StorePort } from "./ports.ts";
import type { NodeFacts } from "../oci/mod.ts";
import type { AppArmorPort } from "../lsm/mod.ts";
import type { ImageUse } from "../image/mod.ts";

/** The services the runtime drives (`ports.ts`), and facts it starts from. */
export interface RuntimeDeps {
  config: Config;
  logger: Logger;
  store: StorePort;
  images: ImagePort;
  shims: ShimPort;
  cni: CniPort;
  cgroups: CgroupPort;
  /** Absolute path of the OCI runtime binary (resolved from PATH at start). */
  runtimeBinary: string;
  /** The agent's own oom_score_adj and whether to clamp containers to it. */
  oom: { restrict: boolean; agentScore: number };
  /** The agent's bounding capabilities: what privileged containers can get. */
  agentCapabilities: string[];
  /** Facts about the node for the spec builder (cgroup version, swap accounting, SELinux…). */
  node: NodeFacts;
  /** AppArmor on the node: which profile a container runs under. */
  apparmor: AppArmorPort;
}

/** Shared state of the runtime; operations take it as their first argument. */
export class RuntimeCore {
  readonly deps: RuntimeDeps;
  readonly config: Config;
  readonly log: Logger;
  readonly sandboxes = new Map<string, Sandbox>();
  readonly containers = new Map<string, Container>();
  /** Name reservations: name key → id (pods and containers have separate key spaces). */
  readonly sandboxNames = new Map<string, string>();
  readonly containerNames = new Map<string, string>();
  readonly locks = new KeyedLock();
  readonly events = new EventBus<ContainerEventResponse>();

  /** Absolute path of the OCI runtime binary. */
  get runtimeBinary(): string {
    return this.deps.runtimeBinary;
  }

  constructor(deps: RuntimeDeps) {
    this.deps = deps;
    this.config = deps.config;
    this.log = deps.logger;
    deps.images.setInUse((id) => this.imageInUse(id));
  }

  /*
   * Lookups by id or prefix serve the CRI's callers, and never reach a record still being
   * created (phase `creating`): its operation holds only the pod's lock, so a caller that got
   * hold of it could remove it under the creation, which would then save it again (a ghost
   * record) and leave its mount. Until the creation returns the id, it does not exist for
   * anyone else — as in containerd, whose stores add a container when its creation is done.
   */

  /** The pod `id` (or a unique id prefix, as crictl allows), or NOT_FOUND. */
  sandbox(id: string, field = "pod_sandbox_id"): Sandbox {
    if (!id) throw invalidArgument(`${field} is empty`);
    const s = this.findSandbox(id, field);
    if (!s) throw notFound(`pod sandbox "${id}" not found`);
    return s;
  }

  /** The pod `id` (or a unique prefix) or undefined (for idempotent calls). */
  findSandbox(id: string, field = "pod_sandbox_id"): Sandbox | undefined {
    return visible(this.sandboxes.get(id)) ??
      this.#byPrefix(this.sandboxes, id, field, "pod sandbox");
  }

  /** The container `id` (or a unique prefix), or NOT_FOUND. */
  container(id: string, field = "container_id"): Container {
    if (!id) throw invalidArgument(`${field} is empty`);
    const c = this.findContainer(id, field);
    if (!c) throw notFound(`container "${id}" not found`);
    return c;
  }

  /** The container `id` (or a unique prefix) or undefined (for idempotent calls). */
  findContainer(id: string, field = "container_id"): Container | undefined {
    return visible(this.containers.get(id)) ??
      this.#byPrefix(this.containers, id, field, "container");
  }

  #byPrefix<T extends Sandbox | Container>(
    map: Map<string, T>,
    id: string,
    field: string,
    what: string,
  ): T | undefined {
    if (isPrefix(id)) {
      const ids = [...map.values()].filter((r) => visible(r)).map((r) => r.doc.id);
      const full = resolvePrefix(id, ids);
      if (full === "ambiguous") {
        throw invalidArgument(`${field} "${id}" matches more than one ${what}`);
      }
      if (full) return map.get(full);
    }
    return undefined;
  }

  /** Containers of pod `sandboxId`. */
  containersOf(sandboxId: string): Container[] {
    return [...this.containers.values()].filter((c) => c.doc.sandboxId === sandboxId);
  }

  /** Persists a pod record. */
  saveSandbox(s: Sandbox): void {
    this.deps.store.put("sandbox", { id: s.doc.id, nameKey: s.nameKey, doc: s.doc });
  }

  /** Persists a container record. */
  saveContainer(c: Container): void {
    this.deps.store.put("container", { id: c.doc.id, nameKey: c.nameKey, doc: c.doc });
  }

  /** Throws FAILED_PRECONDITION unless the pod is ready. */
  requireReady(s: Sandbox, action: string): void {
    if (s.doc.state !== "ready" || s.doc.phase !== "ready") {
      throw failedPrecondition(`cannot ${action}: pod sandbox "${s.doc.id}" is not ready`);
    }
  }

  /** Drops connections to shims (they keep running) and closes the store. */
  close(): void {
    for (const c of this.containers.values()) c.shim?.close();
    for (const s of this.sandboxes.values()) s.pauseShim?.close();
    this.deps.store.close();
  }

  /**
   * Which container uses `imageId`, as its root or as an image volume (RemoveImage must
   * refuse; a volume's image is reported pinned). Image volumes come from the records, so
   * they stay pinned across an agent restart.
   */
  imageInUse(imageId: string): ImageUse | undefined {
    let found: ImageUse | undefined;
    for (const c of this.containers.values()) {
      if (c.doc.imageVolumes?.some((v) => v.imageId === imageId)) {
        return { containerId: c.doc.id, volume: true };
      }
      if (c.doc.imageId === imageId) found ??= { containerId: c.doc.id, volume: false };
    }
    if (found) return found;
    for (const s of this.sandboxes.values()) {
      if (s.doc.pause?.imageId === imageId) {
        return { containerId: s.doc.pause.containerId, volume: false };
      }
    }
    return undefined;
  }
}

/** `r` unless it is still being created. */
function visible<T extends Sandbox | Container>(r: T | undefined): T | undefined {
  return r?.doc.phase === "creating" ? undefined : r;
}

/** Whether `id` is a short hex string a lookup resolves as an id prefix. */
export function isPrefix(id: string): boolean {
  return id.length < 64 && /^[0-9a-f]+$/.test(id);
}
