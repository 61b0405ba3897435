/**
 * The in-memory index of stored images: records by id, names, and what garbage collection
 * must keep. It is loaded once when the store opens and then changed by each pull and
 * removal, in step with the database, so no config is ever parsed again after its pull.
 *
 * Every change bumps {@link ImageIndex.generation}; garbage collection decides on each
 * snapshot and blob against the current generation's keep sets, never against sets taken
 * before an await.
 *
 * @module
 */
import { tryNormalise } from "./_reference.ts";
import type { RefRow, StoredImage } from "./_store.ts";
import type { ImageConfigSummary } from "./_summary.ts";

/**
 * The shortest id prefix a reference may use: 12 hex characters, Docker's short id
 * (`crictl images` shows 13). Anything shorter only resolves as a name.
 */
export const MIN_ID_PREFIX = 12;

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
  /** When this node first pulled the image. */
  pulledAtNs: bigint;
  /** The checkpoint annotations of its manifest and index (a checkpoint image). */
  checkpointAnnotations?: Record<string, string>;
}

/** What garbage collection keeps for the images: their blobs and layer chains. */
export interface KeepSets {
  blobs: Set<string>;
  chains: Set<string>;
}

interface Entry {
  stored: StoredImage;
  /** name → the digest it resolved to on the registry (an index or a manifest). */
  names: Map<string, string>;
  record: ImageRecord;
}

/** The index. */
export class ImageIndex {
  /** In pull order (a map keeps insertion order; a re-pull keeps the first place). */
  readonly #images = new Map<string, Entry>();
  readonly #byName = new Map<string, string>();
  readonly #pinned: Set<string>;
  #generation = 0;
  #keep: { generation: number; sets: KeepSets } | undefined;

  /** Loads `images` (oldest pull first) and `refs`; `pinned` are normalised names. */
  constructor(pinned: Set<string>, images: StoredImage[], refs: RefRow[]) {
    this.#pinned = pinned;
    const namesOf = new Map<string, Map<string, string>>();
    for (const img of images) namesOf.set(img.id, new Map());
    for (const r of refs) {
      const names = namesOf.get(r.imageId);
      if (!names) continue;
      names.set(r.name, r.target);
      this.#byName.set(r.name, r.imageId);
    }
    for (const img of images) {
      const names = namesOf.get(img.id)!;
      this.#images.set(img.id, { stored: img, names, record: this.#toRecord(img, names) });
    }
  }

  /** Changes with every put and delete. */
  get generation(): number {
    return this.#generation;
  }

  #toRecord(s: StoredImage, byName: Map<string, string>): ImageRecord {
    const names = [...byName.keys()].sort();
    const rec: ImageRecord = {
      id: s.id,
      repoTags: names.filter((n) => !n.includes("@")),
      repoDigests: names.filter((n) => n.includes("@")),
      size: s.size,
      config: s.facts.summary,
      chainIds: s.chainIds,
      pinned: names.some((n) => this.#pinned.has(n)),
      manifestDigest: s.manifestDigest,
      pulledAtNs: s.pulledAtNs,
    };
    if (s.facts.createdAtNs !== undefined) rec.createdAtNs = s.facts.createdAtNs;
    if (s.facts.checkpoint) rec.checkpointAnnotations = s.facts.checkpoint;
    return rec;
  }

  /**
   * Records a pulled image and points `names` at it, as `ImageDb.putImage` does: a re-pull
   * keeps the first pull's time and config facts; a name that pointed elsewhere moves.
   */
  put(img: StoredImage, names: { name: string; target: string }[]): ImageRecord {
    const old = this.#images.get(img.id);
    // Field by field: the caller's row may carry the config document, which stays on disk.
    const stored: StoredImage = {
      id: img.id,
      manifestDigest: img.manifestDigest,
      manifestMediaType: img.manifestMediaType,
      facts: old?.stored.facts ?? img.facts,
      layers: img.layers,
      chainIds: img.chainIds,
      size: img.size,
      pulledAtNs: old?.stored.pulledAtNs ?? img.pulledAtNs,
    };
    const mine = old?.names ?? new Map<string, string>();
    const touched = new Set<Entry>();
    for (const { name, target } of names) {
      const prev = this.#byName.get(name);
      if (prev !== undefined && prev !== img.id) {
        const p = this.#images.get(prev);
        if (p) {
          p.names.delete(name);
          touched.add(p);
        }
      }
      this.#byName.set(name, img.id);
      mine.set(name, target);
    }
    for (const p of touched) p.record = this.#toRecord(p.stored, p.names);
    const record = this.#toRecord(stored, mine);
    this.#images.set(img.id, { stored, names: mine, record });
    this.#generation++;
    return record;
  }

  /** Forgets image `id` and all its names. */
  delete(id: string): void {
    const e = this.#images.get(id);
    if (!e) return;
    for (const name of e.names.keys()) this.#byName.delete(name);
    this.#images.delete(id);
    this.#generation++;
  }

  /** The image with id `id` (`sha256:<64 hex>`). */
  get(id: string): ImageRecord | undefined {
    return this.#images.get(id)?.record;
  }

  /**
   * Finds an image, in containerd's CRI order but with a floor on id prefixes:
   * 1. a full id, `sha256:<64 hex>` or `<64 hex>`;
   * 2. a reference, normalised (`busybox` finds `docker.io/library/busybox:latest`);
   * 3. a unique id prefix of at least {@link MIN_ID_PREFIX} hex characters, with or
   *    without `sha256:`. containerd takes any unique prefix; here a short string such as
   *    `a` is only ever the name `docker.io/library/a:latest`, never whichever image's id
   *    starts with `a` (another tenant's private image, with pull policy Never).
   */
  resolve(ref: string): ImageRecord | undefined {
    if (ref === "") return undefined;
    const hex = ref.startsWith("sha256:") ? ref.slice(7) : ref;
    const isHex = /^[0-9a-f]{1,64}$/.test(hex);
    if (isHex && hex.length === 64) return this.get(`sha256:${hex}`);
    const name = tryNormalise(ref);
    if (name) {
      const id = this.#byName.get(name);
      if (id) return this.get(id);
    }
    if (!isHex || hex.length < MIN_ID_PREFIX) return undefined;
    let found: string | undefined;
    for (const id of this.#images.keys()) {
      if (!id.startsWith(`sha256:${hex}`)) continue;
      if (found) return undefined; // ambiguous
      found = id;
    }
    return found ? this.get(found) : undefined;
  }

  /** Every image, oldest pull first. */
  records(): ImageRecord[] {
    return [...this.#images.values()].map((e) => e.record);
  }

  /** Blobs and chains the images need, for the current generation (cached until a change). */
  keep(): KeepSets {
    if (this.#keep?.generation === this.#generation) return this.#keep.sets;
    const blobs = new Set<string>();
    const chains = new Set<string>();
    for (const { stored, names } of this.#images.values()) {
      blobs.add(stored.id);
      blobs.add(stored.manifestDigest);
      for (const l of stored.layers) blobs.add(l.digest);
      for (const c of stored.chainIds) chains.add(c);
      for (const target of names.values()) blobs.add(target);
    }
    const sets = { blobs, chains };
    this.#keep = { generation: this.#generation, sets };
    return sets;
  }
}
