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
 * @module
 */
import type { Config } from "../../config/mod.ts";
import { failedPrecondition, invalidArgument, wrap } from "../../errors/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { Credentials } from "./_auth.ts";
import { ContentStore } from "./_content.ts";
import { isSha256Digest, parseReference, tryNormalise } from "./_reference.ts";
import { Leases, pull, Semaphore } from "./_pull.ts";
import { RegistryClient } from "./_registry.ts";
import { Snapshotter } from "./_snapshots.ts";
import { ImageDb, type ImageRow, type RefRow } from "./_store.ts";

export { formatReference, parseReference, type Reference } from "./_reference.ts";

/** What the container spec builder needs from an image config. */
export interface ImageConfigSummary {
  /** `USER`: a name, uid, `uid:gid` or `name:group`; empty for root. */
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  /** `STOPSIGNAL`, e.g. `SIGQUIT`; empty when unset. */
  stopSignal: string;
  /** `VOLUME` paths. */
  volumes: string[];
  labels: Record<string, string>;
  /** `EXPOSE` entries, e.g. `80/tcp`. */
  exposedPorts: string[];
}

/** One image as the CRI sees it. */
export interface ImageRecord {
  /** `sha256:<config digest>`. */
  id: string;
  /** Normalised `repo:tag` names. */
  repoTags: string[];
  /** Normalised `repo@sha256:…` names. */
  repoDigests: string[];
  /** Bytes of content: index (if any), manifest, config and compressed layers. */
  size: number;
  config: ImageConfigSummary;
  /** Chain ids of the layers, bottom first. */
  chainIds: string[];
  /** Pinned images (the sandbox image) are exempt from the kubelet's image GC. */
  pinned: boolean;
  /** The config's `created` time, when it has one. */
  createdAtNs?: bigint;
  /** Digest of the platform manifest the layers came from. */
  manifestDigest: string;
  /** The full image config as pulled (JSON), for ImageStatus verbose info. */
  configJson: string;
  /** When this node first pulled the image. */
  pulledAtNs: bigint;
}

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
}

/** Usage of the image file system. */
export interface ImageFsUsage {
  mountpoint: string;
  usedBytes: number;
  inodesUsed: number;
  timestampNs: bigint;
}

const USAGE_CACHE_MS = 10_000;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function keys(v: unknown): string[] {
  return v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v).sort() : [];
}

/** The summary of a config document (already validated at pull time). */
export function summariseConfig(configJson: string): {
  summary: ImageConfigSummary;
  created?: bigint;
} {
  const doc = JSON.parse(configJson) as Record<string, unknown>;
  const c = (doc.config && typeof doc.config === "object" ? doc.config : {}) as Record<
    string,
    unknown
  >;
  const labels: Record<string, string> = {};
  if (c.Labels && typeof c.Labels === "object") {
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === "string") labels[k] = v;
  }
  const summary: ImageConfigSummary = {
    user: typeof c.User === "string" ? c.User : "",
    env: strings(c.Env),
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    workingDir: typeof c.WorkingDir === "string" ? c.WorkingDir : "",
    stopSignal: typeof c.StopSignal === "string" ? c.StopSignal : "",
    volumes: keys(c.Volumes),
    labels,
    exposedPorts: keys(c.ExposedPorts),
  };
  const ms = typeof doc.created === "string" ? Date.parse(doc.created) : NaN;
  if (Number.isFinite(ms)) return { summary, created: BigInt(ms) * 1_000_000n };
  return { summary };
}

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
  readonly #pinned: Set<string>;
  #inUse: (imageId: string) => boolean = () => false;
  #byId = new Map<string, ImageRecord>();
  #byName = new Map<string, string>();
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
    this.#pinned = new Set(
      (opts.pinned ?? []).map((p) => tryNormalise(p)).filter((p): p is string => !!p),
    );
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
      s.#reload();
      // Layers an interrupted pull completed belong to no image; nothing holds them now.
      await s.collectGarbage();
      return s;
    } catch (err) {
      db.close();
      throw wrap(err, `cannot open the image store in ${opts.root}`);
    }
  }

  /** Rebuilds the in-memory index from the database (after every write). */
  #reload(): void {
    const refs = this.#db.refs();
    const byImage = new Map<string, RefRow[]>();
    for (const r of refs) byImage.set(r.imageId, [...(byImage.get(r.imageId) ?? []), r]);
    const byId = new Map<string, ImageRecord>();
    for (const row of this.#db.images()) byId.set(row.id, this.#record(row, byImage.get(row.id)));
    this.#byId = byId;
    this.#byName = new Map(refs.map((r) => [r.name, r.imageId]));
  }

  #record(row: ImageRow, refs: RefRow[] = []): ImageRecord {
    const { summary, created } = summariseConfig(row.configJson);
    const names = refs.map((r) => r.name);
    const rec: ImageRecord = {
      id: row.id,
      repoTags: names.filter((n) => !n.includes("@")),
      repoDigests: names.filter((n) => n.includes("@")),
      size: row.size,
      config: summary,
      chainIds: row.chainIds,
      pinned: names.some((n) => this.#pinned.has(n)),
      manifestDigest: row.manifestDigest,
      configJson: row.configJson,
      pulledAtNs: row.pulledAtNs,
    };
    if (created !== undefined) rec.createdAtNs = created;
    return rec;
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
      (r) => {
        this.#db.putImage(r.image, r.names);
        this.#reload();
        return this.#byId.get(r.image.id)!;
      },
    );
  }

  /**
   * Finds a local image by id (`sha256:…`), unique id prefix (with or without `sha256:`),
   * or reference (normalised: `busybox` finds `docker.io/library/busybox:latest`).
   */
  resolve(ref: string): ImageRecord | undefined {
    if (ref === "") return undefined;
    if (isSha256Digest(ref)) {
      const img = this.#byId.get(ref);
      if (img) return img;
    }
    const name = tryNormalise(ref);
    if (name) {
      const id = this.#byName.get(name);
      if (id) return this.#byId.get(id);
    }
    const hex = ref.startsWith("sha256:") ? ref.slice(7) : ref;
    if (/^[0-9a-f]{1,64}$/.test(hex)) {
      const matches = [...this.#byId.keys()].filter((id) => id.startsWith(`sha256:${hex}`));
      if (matches.length === 1) return this.#byId.get(matches[0]!);
    }
    return undefined;
  }

  /** Every image, or only the one `filterRef` resolves to. Oldest pull first. */
  list(filterRef?: string): ImageRecord[] {
    if (filterRef) {
      const img = this.resolve(filterRef);
      return img ? [img] : [];
    }
    return [...this.#byId.values()];
  }

  /** Lets the runtime say which images its containers use. */
  setInUse(isInUse: (imageId: string) => boolean): void {
    this.#inUse = isInUse;
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
    if (this.#inUse(img.id)) {
      throw failedPrecondition(
        `image "${ref}" (${img.id}) is in use by a container; remove the container first`,
      );
    }
    this.#db.deleteImage(img.id);
    this.#reload();
    this.#log.info("removed image", { image: ref, id: img.id });
    await this.collectGarbage();
  }

  /**
   * Deletes blobs and layer snapshots that no image, container or running pull refers
   * to. Runs one at a time.
   */
  collectGarbage(): Promise<void> {
    const run = this.#gc.then(() => this.#collect());
    this.#gc = run.catch(() => {});
    return run;
  }

  async #collect(): Promise<void> {
    const keepBlobs = new Set<string>();
    const keepChains = new Set<string>();
    for (const r of this.#db.refs()) keepBlobs.add(r.target);
    for (const img of this.#db.images()) {
      keepBlobs.add(img.id);
      keepBlobs.add(img.manifestDigest);
      for (const l of img.layers) keepBlobs.add(l.digest);
      for (const c of img.chainIds) keepChains.add(c);
    }
    const rows = this.#snapshots.rows();
    for (const r of rows) {
      if (r.kind === "container") {
        for (const c of r.lowers) keepChains.add(c);
      }
    }
    let snapshots = 0;
    for (const r of rows) {
      if (r.kind !== "layer" || r.state !== "committed") continue;
      if (keepChains.has(r.key) || this.#leases.has(r.key) || this.#snapshots.busy(r.key)) {
        continue;
      }
      await this.#snapshots.remove(r.key);
      snapshots++;
    }
    let blobs = 0;
    for (const d of await this.#content.list()) {
      if (keepBlobs.has(d) || this.#leases.has(d) || this.#content.busy(d)) continue;
      await this.#content.delete(d);
      blobs++;
    }
    this.#usage = undefined;
    if (snapshots + blobs > 0) this.#log.info("garbage collected", { snapshots, blobs });
  }

  /**
   * Bytes and inodes used by images: content, unpacked layers and containers' writable
   * layers (what the kubelet's image GC thresholds watch). Cached for a few seconds.
   */
  async fsInfo(): Promise<ImageFsUsage> {
    const now = Date.now();
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
      timestampNs: BigInt(now) * 1_000_000n,
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

  /** The root directory this service stores under. */
  get root(): string {
    return this.#root;
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}
