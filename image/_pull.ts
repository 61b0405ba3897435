/**
 * One image pull: resolve the reference, pick this node's platform from an index, fetch
 * the config, download the missing layers (several at once) and unpack each into its
 * snapshot as soon as it is verified — layers unpack concurrently, each waiting for the
 * layers below only where it needs their attributes.
 *
 * Nothing becomes visible before it is complete: blobs are renamed into the content store
 * after verification, snapshots are committed after unpacking, and the image record is
 * written last, in one transaction. What an interrupted pull leaves (ingest files,
 * `extracting` snapshots) is removed by the next open or by the next pull of that layer.
 *
 * @module
 */
import { canceled, invalidArgument, kindOf, notFound, wrap } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { nowNs } from "../lib/clock.ts";
import type { ContentStore } from "./_content.ts";
import { chainIds } from "./_digest.ts";
import {
  type Descriptor,
  formatPlatform,
  hostPlatform,
  type ImageConfig,
  type Index,
  layerCompression,
  type Manifest,
  MAX_CONFIG_BYTES,
  parseImageConfig,
  parseManifest,
  type Platform,
  selectPlatform,
} from "./_manifest.ts";
import { PullProgress } from "./_progress.ts";
import { formatReference, type Reference, repository } from "./_reference.ts";
import type { Endpoint, PullCredentials, RegistryClient } from "./_registry.ts";
import type { Snapshotter } from "./_snapshots.ts";
import type { ImageRow } from "./_store.ts";
import { checkpointAnnotations, type ConfigFacts, summariseConfig } from "./_summary.ts";

function withCheckpoint(f: ConfigFacts, c: Record<string, string> | undefined): ConfigFacts {
  return c ? { ...f, checkpoint: c } : f;
}
import { unpackLayer } from "./_unpack.ts";

const RETRIES = 3;

/** A counting semaphore. */
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  /** Allows `n` holders at once. */
  constructor(n: number) {
    this.#free = n;
  }

  /** Runs `fn` while holding one unit. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** Keys (digests, chain ids) that garbage collection must keep while a pull uses them. */
export class Leases {
  readonly #held = new Map<string, number>();

  /** Holds `keys` until the returned release is called. */
  hold(keys: Iterable<string>): () => void {
    const list = [...keys];
    for (const k of list) this.#held.set(k, (this.#held.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of list) {
        const n = (this.#held.get(k) ?? 1) - 1;
        if (n <= 0) this.#held.delete(k);
        else this.#held.set(k, n);
      }
    };
  }

  /** True when a pull holds `key`. */
  has(key: string): boolean {
    return this.#held.has(key);
  }
}

/** What a pull needs. */
export interface PullDeps {
  registry: RegistryClient;
  content: ContentStore;
  snapshots: Snapshotter;
  leases: Leases;
  /** Layers of one image downloaded at once (`image.max_concurrent_downloads`). */
  maxConcurrentDownloads: number;
  /** Limits concurrent layer unpacks across all pulls. */
  unpacks: Semaphore;
  logger: Logger;
  /** Sees each layer unpacked and the bytes the pull fetched (metrics). */
  observer?: PullObserver;
}

/** What a pull reports as it goes, for the agent's metrics. */
export interface PullObserver {
  /** A layer was unpacked into its snapshot in `seconds`. */
  unpacked(seconds: number): void;
  /** The pull ended (either way) having fetched `bytes` from registries. */
  fetched(bytes: number): void;
}

/** The outcome: the row to record and the names to point at it. */
export interface PullResult {
  image: ImageRow;
  names: { name: string; target: string }[];
  /** The parsed config (its facts are in `image.facts`). */
  config: ImageConfig;
}

function backoff(attempt: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, 250 * 2 ** (attempt - 1));
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Pulls `ref`, unpacks it and hands the result to `record` while the pull's leases still
 * protect its content from garbage collection (they are released once `record` settles).
 */
export async function pull<T>(
  d: PullDeps,
  ref: Reference,
  auth: PullCredentials | undefined,
  signal: AbortSignal,
  record: (r: PullResult) => T | Promise<T>,
): Promise<T> {
  const name = formatReference(ref);
  const log = d.logger.with({ image: name });
  const started = performance.now();
  log.info("pulling image");
  const held: (() => void)[] = [];
  const lease = (keys: string[]) => held.push(d.leases.hold(keys));
  const progress = new PullProgress(log);
  try {
    // 1. The manifest, through an index when the reference names one.
    const root = await d.registry.resolve(ref, auth, signal);
    lease([root.digest]);
    await d.content.put(root.digest, root.bytes);
    const doc = parseManifest(root.bytes, root.mediaType);
    let manifest: Manifest;
    let manifestDigest = root.digest;
    let manifestMediaType = doc.mediaType;
    let size = root.bytes.length;
    let endpoint: Endpoint = root.endpoint;
    if (doc.kind === "index") {
      const want = hostPlatform();
      const desc = selectOrThrow(doc, want, name);
      const m = await d.registry.manifest(ref, desc.digest, root.endpoint, auth, signal);
      lease([m.digest]);
      await d.content.put(m.digest, m.bytes);
      const parsed = parseManifest(m.bytes, desc.mediaType);
      if (parsed.kind !== "manifest") {
        throw invalidArgument(`index entry ${desc.digest} of ${name} is not an image manifest`);
      }
      manifest = parsed;
      manifestDigest = m.digest;
      manifestMediaType = parsed.mediaType;
      size += m.bytes.length;
      endpoint = m.endpoint;
    } else {
      manifest = doc;
    }

    // 2. The config: image id, diff ids, and what containers run.
    const cfgDesc = manifest.config;
    if (cfgDesc.size > MAX_CONFIG_BYTES) {
      throw invalidArgument(`image config of ${name} is ${cfgDesc.size} bytes, too large`);
    }
    lease([cfgDesc.digest]);
    const eps = [
      endpoint,
      ...d.registry.endpoints(ref.domain).filter((e) => e.base !== endpoint.base),
    ];
    // Through the content store, so concurrent pulls of one image fetch it once.
    await d.content.ingest(
      cfgDesc.digest,
      cfgDesc.size,
      (offset) => d.registry.openBlob(ref, cfgDesc.digest, offset, eps, auth, signal),
      {},
    );
    const cfgBytes = await d.content.read(cfgDesc.digest);
    const config = parseImageConfig(cfgBytes, manifest.layers.length);
    const want = hostPlatform();
    if (config.os && (config.os !== want.os || config.architecture !== want.architecture)) {
      log.warn("image is built for another platform", {
        platform: formatPlatform({ os: config.os, architecture: config.architecture }),
        node: formatPlatform(want),
      });
    }
    size += cfgBytes.length;
    const diffIds = config.rootfs.diff_ids;
    const chains = chainIds(diffIds);
    const compressions = manifest.layers.map((l) => layerCompression(l.mediaType));
    lease([...chains, ...manifest.layers.map((l) => l.digest)]);
    size += manifest.layers.reduce((n, l) => n + l.size, 0);

    // 3. Layers: download what is missing, unpack as each arrives.
    const downloads = new Semaphore(d.maxConcurrentDownloads);
    const layerDone: Promise<void>[] = [];
    // Unpack slots go to layers bottom-up: a layer may wait (inside its slot) for the
    // layers below it, so those must already hold a slot or be done, or a full set of
    // slots held by upper layers would wait forever for lower ones.
    const slotTaken: PromiseWithResolvers<void>[] = manifest.layers.map(() =>
      Promise.withResolvers<void>()
    );
    const abort = new AbortController();
    const inner = AbortSignal.any([signal, abort.signal]);
    for (const [i, layer] of manifest.layers.entries()) {
      const chain = chains[i]!;
      const below = i === 0 ? Promise.resolve() : layerDone[i - 1]!;
      const task = (async () => {
        if (d.snapshots.has(chain)) return;
        await downloads.run(async () => {
          if (d.snapshots.has(chain)) return;
          progress.start(layer.digest, layer.size);
          try {
            const outcome = await d.content.ingest(
              layer.digest,
              layer.size,
              (offset) => d.registry.openBlob(ref, layer.digest, offset, eps, auth, inner),
              {
                progress: (n) => progress.update(layer.digest, n),
                retry: async (err, attempt) => {
                  const k = kindOf(err);
                  if (inner.aborted || attempt >= RETRIES) return false;
                  if (k !== "unavailable" && k !== "deadline-exceeded") return false;
                  log.info("layer download interrupted, resuming", {
                    layer: layer.digest,
                    attempt,
                    error: err instanceof Error ? err.message : String(err),
                  });
                  await backoff(attempt, inner);
                  return true;
                },
              },
            );
            progress.finish(layer.digest, outcome);
          } catch (err) {
            progress.fail(layer.digest);
            throw wrap(err, `cannot pull layer ${layer.digest} of ${name}`);
          }
        });
        if (i > 0) await slotTaken[i - 1]!.promise;
        await d.unpacks.run(async () => {
          slotTaken[i]!.resolve();
          const t = performance.now();
          const state = await d.snapshots.prepare(chain, async (dest) => {
            const r = await unpackLayer({
              blob: d.content.path(layer.digest),
              compression: compressions[i]!,
              dest,
              lowers: () =>
                chains.slice(0, i).reverse().map((c) => d.snapshots.layerDir(c))
                  .filter((x): x is string => x !== undefined),
              lowersReady: below,
              diffId: diffIds[i]!,
              signal: inner,
              logger: log,
            }).catch((err) => {
              throw wrap(err, `cannot unpack layer ${layer.digest} of ${name}`);
            });
            const seconds = (performance.now() - t) / 1000;
            d.observer?.unpacked(seconds);
            log.info("unpacked layer", {
              layer: layer.digest,
              entries: r.entries,
              sizeMB: (r.tarBytes / (1 << 20)).toFixed(1),
              seconds: seconds.toFixed(2),
            });
          });
          if (state === "exists") log.debug("layer unpacked by another pull", { chain });
        });
      })();
      // A failure stops the other layers' work too.
      task.catch(() => abort.abort()).finally(() => slotTaken[i]!.resolve());
      layerDone.push(task);
    }
    const outcomes = await Promise.allSettled(layerDone);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) {
      if (signal.aborted) throw canceled(`pull of ${name} canceled`, { cause: failed.reason });
      // Report the first real failure, not a sibling's cancellation it caused.
      const real = outcomes.find((o): o is PromiseRejectedResult =>
        o.status === "rejected" && kindOf(o.reason) !== "canceled"
      );
      throw (real ?? failed).reason;
    }

    const image: ImageRow = {
      id: cfgDesc.digest,
      manifestDigest,
      manifestMediaType,
      configJson: new TextDecoder().decode(cfgBytes),
      // The config is parsed here, once; listing and removing images never parse it again.
      facts: withCheckpoint(
        summariseConfig(config),
        checkpointAnnotations(
          doc.kind === "index" ? doc.annotations : undefined,
          manifest.annotations,
        ),
      ),
      layers: manifest.layers.map((l, i) => ({
        digest: l.digest,
        size: l.size,
        mediaType: l.mediaType,
        diffId: diffIds[i]!,
      })),
      chainIds: chains,
      size,
      pulledAtNs: nowNs(),
    };
    const names = [{ name: `${repository(ref)}@${root.digest}`, target: root.digest }];
    if (ref.tag) names.unshift({ name, target: root.digest });
    log.info("pulled image", {
      id: image.id,
      digest: root.digest,
      sizeMB: (size / (1 << 20)).toFixed(1),
      downloadedMB: (progress.bytes / (1 << 20)).toFixed(1),
      seconds: ((performance.now() - started) / 1000).toFixed(2),
    });
    return await record({ image, names, config });
  } catch (err) {
    if (signal.aborted && kindOf(err) !== "canceled") {
      throw canceled(`pull of ${name} canceled`, { cause: err });
    }
    throw err;
  } finally {
    progress.close();
    d.observer?.fetched(progress.bytes);
    for (const release of held) release();
  }
}

function selectOrThrow(doc: Index, want: Platform, name: string): Descriptor {
  const desc = selectPlatform(doc, want);
  if (!desc) {
    // Platform names come from the index: shown only when they look like platforms.
    const have = doc.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!))
      .filter((p) => /^[a-z0-9_.-]{1,32}(\/[a-z0-9_.-]{1,32}){1,2}$/i.test(p)).slice(0, 16);
    throw notFound(
      `image ${name} has no manifest for platform ${formatPlatform(want)} (it has: ${
        have.join(", ") || "none"
      })`,
    );
  }
  return desc;
}
