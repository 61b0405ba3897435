/**
 * What the runtime needs from the services it drives, as narrow interfaces: the shim
 * client, the image service, CNI, the metadata store and the cgroup driver. The agent
 * passes the real ones (`app/services.ts`); the runtime's unit tests pass fakes
 * (`_test_core.ts`), so the operations' failure and undo paths run without root.
 *
 * @module
 */
import type { RuntimeSpec } from "../shim/protocol.ts";
import type { ExitRecord, ShimCreateOptions, ShimHandle } from "../shim/client/mod.ts";
import type { ImageRecord, ImageUse } from "../image/mod.ts";
import type { PodNetworkRequest, PodNetworkResult, PodNetworkTeardown } from "../network/mod.ts";
import type { RecordKind, StoredRecord } from "../store/mod.ts";
import type { CgroupLimits, OwnedCgroup } from "../cgroups/mod.ts";
import type { CheckpointCapability } from "../checkpoint/mod.ts";

/** The shim client (`shim/client/`'s ShimManager). */
export interface ShimPort {
  /** Spawns (or takes the spare of `o.id`) and has it `runc create`; undoes itself on failure. */
  create(o: ShimCreateOptions): Promise<ShimHandle>;
  /** The live shim of `id` after an agent restart; undefined when none runs. */
  reconnect(id: string): Promise<ShimHandle | undefined>;
  /** Kills a shim left running, force-deletes the container, removes the state dir. */
  cleanup(id: string, runtime: RuntimeSpec): Promise<void>;
  /** The exit record the shim of `id` left, if any. */
  lastExit(id: string): Promise<ExitRecord | undefined>;
  /** Ids of the shim state dirs present. */
  ids(): Promise<string[]>;
  /** Ids of the containers the runtime knows under `runtime.root`. */
  runtimeIds(runtime: RuntimeSpec): Promise<string[]>;
  /** Starts a shim ahead for container `o.id`, kept under `key`. */
  prespawn(
    key: string,
    o: { id: string; bundle: string; runtime: RuntimeSpec; logDir?: string; idleMs?: number },
  ): void;
  /** The container id reserved by the spare of `key`, if one is ready. */
  takeSpare(key: string): string | undefined;
  /** Hands the spare of `from` to `to` when it may log under `logDir`. */
  moveSpare(from: string, to: string, logDir: string | undefined): boolean;
  /** Stops the spare of `key`, if any. */
  dropSpare(key: string): Promise<void>;
  /** Stops every spare, and starts no more (the agent is stopping). */
  dropSpares(): Promise<void>;
}

/** The image service (`image/`'s ImageService). */
export interface ImagePort {
  /** The image `ref` names (a name, digest or id), if present. */
  resolve(ref: string): ImageRecord | undefined;
  /** Pulls `ref` (the sandbox image, when missing). */
  pull(ref: string, opts: { signal?: AbortSignal }): Promise<ImageRecord>;
  /**
   * Mounts a writable snapshot of `image` at `target`; undoes itself on failure. With
   * `idmap`, the image's layers are idmapped into a pod's user namespace.
   */
  mountRootfs(
    containerId: string,
    image: ImageRecord,
    target: string,
    opts: {
      readonly: boolean;
      idmap?: { usernsPath: string; hostId: number } | undefined;
      /** Fills the new writable layer before it is mounted (a restore's rootfs diff). */
      beforeMount?: (upperDir: string, lowers: string[]) => Promise<void>;
    },
  ): Promise<{ upperDir: string }>;
  /** The unpacked top layer of `image` (a checkpoint image's files), if present. */
  topLayerDir?(image: ImageRecord): string | undefined;
  /** Unmounts `target` and drops the container's snapshot (idempotent). */
  unmountRootfs(containerId: string, target: string): Promise<void>;
  /**
   * Mounts `image` read-only on `target` (an image volume), or only its directory
   * `subPath`; invalid-argument naming `field` when the sub path is missing, not a
   * directory or leads out. Nothing stays mounted on failure.
   */
  mountVolume(image: ImageRecord, target: string, subPath: string, field: string): void;
  /** Unmounts every image volume under `dir` (idempotent). */
  unmountVolumes(dir: string): Promise<void>;
  /** Lets RemoveImage (and the image list's `pinned`) ask which container uses an image. */
  setInUse(inUse: (imageId: string) => ImageUse | undefined): void;
}

/** Pod networking (`network/`'s CniManager). */
export interface CniPort {
  /** CNI ADD; undoes itself on failure. */
  setUp(req: PodNetworkRequest, signal?: AbortSignal): Promise<PodNetworkResult>;
  /** CNI DEL (idempotent). */
  tearDown(req: PodNetworkTeardown): Promise<void>;
}

/** The metadata store (`store/`'s MetadataStore): the records, written before each step. */
export interface StorePort {
  put<T>(kind: RecordKind, rec: StoredRecord<T>): void;
  delete(kind: RecordKind, id: string): void;
  all<T>(kind: RecordKind): StoredRecord<T>[];
  close(): void;
}

/** What the runtime needs from the cgroup driver (adapted from `cgroups/` in `cgroup_port.ts`). */
export interface CgroupPort {
  /** "cgroupfs" or "systemd". */
  readonly driver: "cgroupfs" | "systemd";
  /** Throws invalid-argument naming `field` when `parent` is not valid for the driver. */
  validateParent(parent: string, field: string): void;
  /** The OCI `linux.cgroupsPath` of a container (or the pause container) under `parent`. */
  cgroupsPath(parent: string, containerId: string): string;
  /**
   * Creates the pod cgroup where missing (cgroupfs); returns what it created (to persist and
   * remove exactly that later), or undefined when it created nothing.
   */
  ensureParent(parent: string): OwnedCgroup | undefined;
  /** Removes what {@link ensureParent} created (idempotent). */
  removeParent(owned: OwnedCgroup): void;
  /** The memory a container's cgroup (its OCI cgroupsPath) uses now; undefined: unknown. */
  memoryUsage(runtimeCgroupsPath: string): number | undefined;
  /**
   * Writes `limits` into the pod cgroup of `parent`, all or nothing; errors name fields under
   * `field`. A memory limit below the pod's usage is refused.
   */
  writePodLimits(parent: string, limits: CgroupLimits, field: string): void;
  /** Writes `limits` into a container's cgroup (its OCI cgroupsPath), all or nothing. */
  writeContainerLimits(runtimeCgroupsPath: string, limits: CgroupLimits, field: string): void;
}

/** The node's checkpoint/restore capability (`checkpoint/`'s probe, cached). */
export interface CheckpointPort {
  capability(): Promise<CheckpointCapability>;
}
