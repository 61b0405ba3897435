/**
 * Images: pull from registries, store content and unpacked layers, and give containers
 * their root file systems — the ImageService half of the CRI, as containerd's CRI plugin
 * and overlay snapshotter do it.
 *
 * On disk, under the agent's root directory:
 * - `images/meta.db` — images, their names, snapshots (`_store.ts`)
 * - `images/blobs/sha256/<hex>` — verified content; `images/ingest/` — downloads in flight
 * - `snapshots/<n>/fs` — one unpacked layer per chain id; `snapshots/<n>/{fs,work}` — a
 *   container's writable layer
 *
 * Images are named by their config digest (`sha256:…`, the image id); each pull points the
 * reference's tag and its `repo@digest` at the image. An image stays until RemoveImage,
 * even after its tag moves (as in containerd, it stays listed by digest). Content and
 * layers no longer used by any image or container are garbage-collected after a removal.
 *
 * A reference resolves as a full id, then as a name, then as an id prefix of at least
 * {@link MIN_ID_PREFIX} hex characters (what `crictl images` shows): a short string such as
 * `a` never picks an image another pod pulled.
 *
 * The index of images lives in memory and changes with each pull and removal; the config
 * of an image is parsed once, at pull, and its facts stored with it.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { failedPrecondition, invalidArgument, wrap } from "../errors/mod.ts";
import { FsErrno } from "../ffi/beneath.ts";
import { SyscallError } from "../ffi/mod.ts";
import type { Logger } from "../log/mod.ts";
import { nowNs } from "../lib/clock.ts";
import type { Credentials } from "./_auth.ts";
import { ContentStore } from "./_content.ts";
import { parseReference, tryNormalise } from "./_reference.ts";
import { Leases, pull, Semaphore } from "./_pull.ts";
import { RegistryClient } from "./_registry.ts";
import { Snapshotter } from "./_snapshots.ts";
import { ImageDb } from "./_store.ts";
import { ImageIndex, type ImageRecord } from "./_index.ts";

export { formatReference, parseReference, type Reference } from "./_reference.ts";
export type { ImageConfigSummary } from "./_summary.ts";
export { type ImageRecord, MIN_ID_PREFIX } from "./_index.ts";

/** Credentials of one pull (the CRI `AuthConfig`). */
export interface PullAuth {
  username?: string;
  password?: string;
  /** base64 `user:password`. */
  auth?: string;
  /** The registry the credentials are for; empty means any. */
  serverAddress?: string;
  /** An OAuth2 refresh token, exchanged at the registry's token service. */
  identityToken?: string;
  /** A bearer token sent to the registry as is. */
  registryToken?: string;
}

/** Options of {@link ImageService.open}. */
export interface ImageServiceOptions {
  /** The agent's root directory; the service owns `<root>/images` and `<root>/snapshots`. */
  root: string;
  config: Config["image"];
  logger: Logger;
  /** References never reported as unpinned (e.g. the sandbox image), any spelling. */
  pinned?: string[];
  /** Sees every registry request (tests count them). */
  onRegistryRequest?: (method: string, url: string) => void;
  /** Pause points for tests that interleave operations (never set in the agent). */
  hooks?: ImageServiceHooks;
}

/**
 * Points where a test can hold the service to interleave a pull with garbage collection
 * deterministically. Unset, they add no await.
 */
export interface ImageServiceHooks {
  /** A pull has unpacked and leased everything and is about to record image `id`. */
  beforeRecord?: (id: string) => Promise<void>;
  /** Garbage collection is about to decide on snapshot or blob `key`. */
  beforeCollect?: (key: string) => Promise<void>;
}

/** Who uses an image, as the runtime answers {@link ImageService.setInUse}. */
export interface ImageUse {
  /** A container using it (the first found). */
  containerId: string;
  /** Some container mounts it as an image volume (then it is reported pinned). */
  volume: boolean;
}

/** Usage of the image file system. */
export interface ImageFsUsage {
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
  timestampNs: bigint;
}

const USAGE_CACHE_MS = 10_000;

/** The image store and its CRI operations. One per agent. */
export class ImageService {
  readonly #root: string;
  readonly #db: ImageDb;
  readonly #content: ContentStore;
  readonly #snapshots: Snapshotter;
  readonly #registry: RegistryClient;
  readonly #log: Logger;
  readonly #leases = new Leases();
  readonly #maxDownloads: number;
  readonly #unpacks: Semaphore;
  readonly #hooks: ImageServiceHooks;
  readonly #index: ImageIndex;
  #inUse: (imageId: string) => ImageUse | undefined = () => undefined;
  #gc: Promise<void> = Promise.resolve();
  #usage: { at: number; value: ImageFsUsage } | undefined;

  private constructor(
    root: string,
    db: ImageDb,
    content: ContentStore,
    snapshots: Snapshotter,
    registry: RegistryClient,
    opts: ImageServiceOptions,
  ) {
    this.#root = root;
    this.#db = db;
    this.#content = content;
    this.#snapshots = snapshots;
    this.#registry = registry;
    this.#log = opts.logger;
    this.#maxDownloads = opts.config.maxConcurrentDownloads;
    this.#unpacks = new Semaphore(Math.max(2, navigator.hardwareConcurrency ?? 2));
    this.#hooks = opts.hooks ?? {};
    const pinned = new Set(
      (opts.pinned ?? []).map((p) => tryNormalise(p)).filter((p): p is string => !!p),
    );
    this.#index = new ImageIndex(pinned, db.images(), db.refs());
  }

  /**
   * Opens the store under `opts.root`, creating it if needed, and removes what an
   * interrupted pull left behind (partial downloads, half-unpacked layers).
   */
  static async open(opts: ImageServiceOptions): Promise<ImageService> {
    const log = opts.logger.with({ component: "images" });
    const imagesDir = `${opts.root}/images`;
    await Deno.mkdir(imagesDir, { recursive: true, mode: 0o700 });
    const db = ImageDb.open(`${imagesDir}/meta.db`);
    try {
      const content = await ContentStore.open(imagesDir);
      const snapshots = await Snapshotter.open(`${opts.root}/snapshots`, db, log);
      const auths: Record<string, Credentials> = {};
      for (const [host, a] of Object.entries(opts.config.auths)) auths[host] = a;
      const registry = new RegistryClient({
        mirrors: opts.config.mirrors,
        insecureRegistries: opts.config.insecureRegistries,
        auths,
        progressTimeoutMs: opts.config.pullProgressTimeoutSeconds * 1000,
        logger: log,
        ...(opts.onRegistryRequest ? { onRequest: opts.onRegistryRequest } : {}),
      });
      const s = new ImageService(opts.root, db, content, snapshots, registry, {
        ...opts,
        logger: log,
      });
      // Layers an interrupted pull completed belong to no image; nothing holds them now.
      await s.collectGarbage();
      return s;
    } catch (err) {
      db.close();
      throw wrap(err, `cannot open the image store in ${opts.root}`);
    }
  }

  /**
   * Applies a reloaded configuration's registry keys (`image.mirrors`, `image.auths`,
   * `image.insecure_registries`) to the pulls that start from now on.
   */
  updateRegistries(config: Config["image"]): void {
    const auths: Record<string, Credentials> = {};
    for (const [host, a] of Object.entries(config.auths)) auths[host] = a;
    this.#registry.updateHosts({
      mirrors: config.mirrors,
      insecureRegistries: config.insecureRegistries,
      auths,
    });
  }

  /**
   * Pulls `ref` (a tag or digest reference, normalised like docker) and unpacks it.
   * Returns the image; its id is what PullImage answers.
   */
  async pull(
    ref: string,
    opts: { auth?: PullAuth; signal?: AbortSignal } = {},
  ): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const signal = opts.signal ?? new AbortController().signal;
    return await pull(
      {
        registry: this.#registry,
        content: this.#content,
        snapshots: this.#snapshots,
        leases: this.#leases,
        maxConcurrentDownloads: this.#maxDownloads,
        unpacks: this.#unpacks,
        logger: this.#log,
      },
      parsed,
      opts.auth,
      signal,
      async (r) => {
        if (this.#hooks.beforeRecord) await this.#hooks.beforeRecord(r.image.id);
        // Database and index change together, before the pull's leases are released.
        this.#db.putImage(r.image, r.names);
        return this.#index.put(r.image, r.names);
      },
    );
  }

  /**
   * Finds a local image by full id, by reference, or by a unique id prefix of at least
   * {@link MIN_ID_PREFIX} hex characters (see `ImageIndex.resolve`).
   */
  resolve(ref: string): ImageRecord | undefined {
    const img = this.#index.resolve(ref);
    return img && this.#view(img);
  }

  /** Every image, or only the one `filterRef` resolves to. Oldest pull first. */
  list(filterRef?: string): ImageRecord[] {
    if (filterRef) {
      const img = this.resolve(filterRef);
      return img ? [img] : [];
    }
    return this.#index.records().map((r) => this.#view(r));
  }

  /**
   * An image mounted as a volume is reported pinned while mounted: the kubelet's image
   * garbage collection skips pinned images, and it counts only containers' own images as
   * in use (RemoveImage would refuse it anyway).
   */
  #view(img: ImageRecord): ImageRecord {
    return !img.pinned && this.#inUse(img.id)?.volume ? { ...img, pinned: true } : img;
  }

  /** The config document of image `id` exactly as pulled (JSON), for verbose status. */
  configJson(id: string): string | undefined {
    return this.#db.configJson(id);
  }

  /** Lets the runtime say which images its containers use (as root or volume). */
  setInUse(inUse: (imageId: string) => ImageUse | undefined): void {
    this.#inUse = inUse;
  }

  /**
   * Removes the image `ref` resolves to, with all its names, and collects what no image or
   * container needs any more. Unknown images are fine (removal is idempotent); an image a
   * container uses is refused with failed-precondition.
   */
  async remove(ref: string): Promise<void> {
    if (ref === "") throw invalidArgument("image reference is empty");
    const img = this.resolve(ref);
    if (!img) return;
    const use = this.#inUse(img.id);
    if (use) {
      throw failedPrecondition(
        `image "${ref}" (${img.id}) is in use by container "${use.containerId}"` +
          `${use.volume ? " (as an image volume)" : ""}; remove the container first`,
      );
    }
    this.#db.deleteImage(img.id);
    this.#index.delete(img.id);
    this.#log.info("removed image", { image: ref, id: img.id });
    await this.collectGarbage();
  }

  /**
   * Deletes blobs and layer snapshots that no image, container or running pull refers
   * to. Runs one at a time.
   *
   * Pulls run meanwhile: one may record its image and release its leases while a row is
   * being deleted. So each snapshot and blob is decided on the state of that moment (the
   * index's current keep sets, live leases, container snapshots), and the decision and the
   * start of the deletion happen with no await between them: the snapshot's row, or the
   * blob's pending deletion, is visible to a pull before anything yields.
   */
  collectGarbage(): Promise<void> {
    const run = this.#gc.then(() => this.#collect());
    this.#gc = run.catch(() => {});
    return run;
  }

  async #collect(): Promise<void> {
    const hook = this.#hooks.beforeCollect;
    let snapshots = 0;
    for (const r of this.#snapshots.rows()) {
      if (r.kind !== "layer") continue;
      if (hook) await hook(r.key);
      if (!this.#collectableLayer(r.key)) continue;
      await this.#snapshots.remove(r.key);
      snapshots++;
    }
    let blobs = 0;
    for (const d of await this.#content.list()) {
      if (hook) await hook(d);
      if (this.#index.keep().blobs.has(d) || this.#leases.has(d) || this.#content.busy(d)) {
        continue;
      }
      await this.#content.delete(d);
      blobs++;
    }
    this.#usage = undefined;
    if (snapshots + blobs > 0) this.#log.info("garbage collected", { snapshots, blobs });
  }

  /** True when layer `chain` is committed and nothing needs it now. */
  #collectableLayer(chain: string): boolean {
    return this.#snapshots.has(chain) && !this.#index.keep().chains.has(chain) &&
      !this.#leases.has(chain) && !this.#snapshots.busy(chain) &&
      !this.#snapshots.usedByContainer(chain);
  }

  /**
   * Bytes and inodes used by images: content, unpacked layers and containers' writable
   * layers (what the kubelet's image GC thresholds watch). Cached for a few seconds.
   */
  async fsInfo(): Promise<ImageFsUsage> {
    // The cache's age on the monotonic clock; the reading's time on the one wall clock.
    const now = performance.now();
    if (this.#usage && now - this.#usage.at < USAGE_CACHE_MS) return this.#usage.value;
    let bytes = 0;
    let inodes = 0;
    for (const r of this.#snapshots.rows()) {
      if (r.kind === "layer" && r.state === "committed") {
        bytes += r.usageBytes ?? 0;
        inodes += r.usageInodes ?? 0;
      } else if (r.kind === "container") {
        const u = await this.#snapshots.containerUsage(r);
        bytes += u.bytes;
        inodes += u.inodes;
      }
    }
    const c = await this.#content.usage();
    const value: ImageFsUsage = {
      mountpoint: this.#snapshots.root,
      usedBytes: bytes + c.bytes,
      inodesUsed: inodes + c.inodes,
      timestampNs: nowNs(),
    };
    this.#usage = { at: now, value };
    return value;
  }

  /**
   * Prepares the container's writable snapshot and mounts the overlay at `target` (the
   * bundle's `rootfs`). The overlay is always writable: runc must create mount points in
   * it before it remounts the root read-only for `readonly` (the OCI `root.readonly`), as
   * containerd does. Undoes itself on failure; calling it again for a mounted container
   * changes nothing.
   */
  async mountRootfs(
    containerId: string,
    image: ImageRecord,
    target: string,
    opts: { readonly: boolean },
  ): Promise<{ upperDir: string }> {
    if (containerId === "") throw invalidArgument("container id is empty");
    const { upperDir } = await this.#snapshots.mount(containerId, image.chainIds, target);
    this.#usage = undefined;
    this.#log.debug("prepared rootfs", { containerId, image: image.id, readonly: opts.readonly });
    return { upperDir };
  }

  /**
   * Unmounts `target` if mounted and removes the container's snapshot. Idempotent (used by
   * RemoveContainer and by recovery for orphans).
   */
  async unmountRootfs(containerId: string, target: string): Promise<void> {
    await this.#snapshots.unmount(containerId, target);
    this.#usage = undefined;
  }

  /**
   * Mounts `image` read-only on directory `target` (an image volume): an overlay of its
   * layers with no writable layer, or only its directory `subPath` (resolved beneath the
   * image's root on descriptors). `field` names the sub path in errors: invalid-argument
   * when it is missing, not a directory, or leads out of the image. Nothing stays mounted
   * on failure; {@link unmountVolumes} undoes a success.
   */
  mountVolume(image: ImageRecord, target: string, subPath: string, field: string): void {
    try {
      this.#snapshots.mountImage(image.chainIds, target, subPath);
    } catch (err) {
      if (!(err instanceof SyscallError) || err.syscall !== "openat2") throw err;
      const what = `${field}: ${JSON.stringify(subPath)}`;
      const where = `in image ${image.id}`;
      switch (err.errno) {
        case FsErrno.ENOENT:
          throw invalidArgument(`${what} does not exist ${where}`);
        case FsErrno.ENOTDIR:
          throw invalidArgument(`${what} is not a directory ${where}`);
        case FsErrno.EXDEV:
          throw invalidArgument(`${what} leads out of the image (".." or an absolute symlink)`);
        case FsErrno.ELOOP:
          throw invalidArgument(`${what} has too many symlinks ${where}`);
        default:
          throw wrap(err, `${field}: cannot open ${JSON.stringify(subPath)} ${where}`);
      }
    }
    this.#log.debug("mounted image volume", { image: image.id, target, subPath });
  }

  /** Unmounts every image volume mounted under directory `dir` (idempotent). */
  async unmountVolumes(dir: string): Promise<void> {
    await this.#snapshots.unmountAll(dir);
  }

  /** The root directory this service stores under. */
  get root(): string {
    return this.#root;
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
