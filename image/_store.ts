/**
 * The image metadata database at `<root>/images/meta.db`: images, the names (tags and
 * digest references) that point at them, and snapshots (unpacked layers and container
 * writable layers).
 *
 * `node:sqlite` in WAL mode with `synchronous = FULL`: a committed transaction survives a
 * crash, and a crash mid-transaction leaves the previous state. The blobs themselves live
 * in the content store as files; this database never holds layer data.
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { internal, wrap } from "../errors/mod.ts";
import { decodeFacts, encodeFacts, summariseConfig } from "./_summary.ts";
import type { ConfigFacts } from "./_summary.ts";

/**
 * 1: the first schema. 2: images keep the facts of their config (`facts`), taken once at
 * pull; a version-1 store gets them from its stored configs when it is opened.
 */
const SCHEMA_VERSION = 2;

/** A layer as recorded with its image. */
export interface LayerInfo {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
}

/** An image row as loaded: everything but the config document itself. */
export interface StoredImage {
  /** `sha256:<config digest>`. */
  id: string;
  /** Digest of the platform manifest the layers came from. */
  manifestDigest: string;
  manifestMediaType: string;
  /** What containers and the CRI use from the config, taken at pull. */
  facts: ConfigFacts;
  layers: LayerInfo[];
  chainIds: string[];
  /** Bytes of content: index (if any) + manifest + config + compressed layers. */
  size: number;
  /** When the image was first pulled, ns since the epoch. */
  pulledAtNs: bigint;
}

/** An image row as written at pull, with the config exactly as fetched (JSON text). */
export interface ImageRow extends StoredImage {
  configJson: string;
}

/** A name pointing at an image: `docker.io/library/busybox:latest` or `…@sha256:…`. */
export interface RefRow {
  name: string;
  imageId: string;
  /** The digest the name resolved to on the registry (an index or a manifest). */
  target: string;
}

/** States of a snapshot directory. */
export type SnapshotState = "extracting" | "committed" | "active";

/** A snapshot: a numbered directory under `<root>/snapshots/`. */
export interface SnapshotRow {
  /** The directory number. */
  id: number;
  /** Chain id for a layer, `container:<id>` for a container's writable layer. */
  key: string;
  kind: "layer" | "container";
  state: SnapshotState;
  /** For a container: the chain ids of its image, bottom first. */
  lowers: string[];
  usageBytes: number | null;
  usageInodes: number | null;
}

interface SnapshotDbRow {
  id: number;
  key: string;
  kind: string;
  state: string;
  lowers: string;
  usage_bytes: number | null;
  usage_inodes: number | null;
}

interface ImageDbRow {
  id: string;
  manifest_digest: string;
  manifest_media_type: string;
  facts: string;
  layers: string;
  chain_ids: string;
  size: number;
  pulled_at_ns: bigint;
}

/** The database; synchronous, every write in one transaction. */
export class ImageDb {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Opens or creates the database at `path`. */
  static open(path: string): ImageDb {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA foreign_keys = ON");
      db.exec("PRAGMA busy_timeout = 5000");
    } catch (err) {
      throw wrap(err, `cannot open image database ${path}`);
    }
    const s = new ImageDb(db);
    s.#migrate();
    return s;
  }

  #migrate(): void {
    const v = (this.#db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
    if (v === SCHEMA_VERSION) return;
    if (v === 1) return this.#migrateFrom1();
    if (v !== 0) {
      throw internal(`image database has schema version ${v}; this agent knows ${SCHEMA_VERSION}`);
    }
    this.#tx(() => {
      this.#db.exec(`
        CREATE TABLE images (
          id TEXT PRIMARY KEY,
          manifest_digest TEXT NOT NULL,
          manifest_media_type TEXT NOT NULL,
          config_json TEXT NOT NULL,
          facts TEXT NOT NULL,
          layers TEXT NOT NULL,
          chain_ids TEXT NOT NULL,
          size INTEGER NOT NULL,
          pulled_at_ns INTEGER NOT NULL
        );
        CREATE TABLE refs (
          name TEXT PRIMARY KEY,
          image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
          target TEXT NOT NULL
        );
        CREATE INDEX refs_image ON refs(image_id);
        CREATE TABLE snapshots (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          key TEXT NOT NULL UNIQUE,
          kind TEXT NOT NULL,
          state TEXT NOT NULL,
          lowers TEXT NOT NULL DEFAULT '[]',
          usage_bytes INTEGER,
          usage_inodes INTEGER
        );
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    });
  }

  /** Version 1 → 2: the config facts of every image, parsed once from its stored config. */
  #migrateFrom1(): void {
    this.#tx(() => {
      this.#db.exec("ALTER TABLE images ADD COLUMN facts TEXT NOT NULL DEFAULT '{}'");
      const rows = this.#all<{ id: string; config_json: string }>(
        "SELECT id, config_json FROM images",
      );
      const set = this.#db.prepare("UPDATE images SET facts = ? WHERE id = ?");
      for (const r of rows) {
        let doc: unknown = {};
        try {
          doc = JSON.parse(r.config_json);
        } catch { /* checked at pull; an unreadable one gives empty facts */ }
        set.run(encodeFacts(summariseConfig(doc)), r.id);
      }
      this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    });
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const r = fn();
      this.#db.exec("COMMIT");
      return r;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  #all<T>(sql: string, ...args: SQLInputValue[]): T[] {
    return this.#db.prepare(sql).all(...args) as unknown as T[];
  }

  /** Every image, oldest pull first (without config documents: see {@link configJson}). */
  images(): StoredImage[] {
    const stmt = this.#db.prepare(
      `SELECT id, manifest_digest, manifest_media_type, facts, layers, chain_ids, size,
         pulled_at_ns FROM images ORDER BY pulled_at_ns, id`,
    );
    stmt.setReadBigInts(true);
    return (stmt.all() as unknown as ImageDbRow[]).map((r) => ({
      id: r.id,
      manifestDigest: r.manifest_digest,
      manifestMediaType: r.manifest_media_type,
      facts: decodeFacts(r.facts),
      layers: JSON.parse(r.layers) as LayerInfo[],
      chainIds: JSON.parse(r.chain_ids) as string[],
      size: Number(r.size),
      pulledAtNs: BigInt(r.pulled_at_ns),
    }));
  }

  /** The config document of image `id` as pulled (JSON text), if the image is stored. */
  configJson(id: string): string | undefined {
    const r = this.#db.prepare("SELECT config_json FROM images WHERE id = ?").get(id) as
      | { config_json: string }
      | undefined;
    return r?.config_json;
  }

  /** Every name. */
  refs(): RefRow[] {
    return this.#all<{ name: string; image_id: string; target: string }>(
      "SELECT name, image_id, target FROM refs ORDER BY name",
    ).map((r) => ({ name: r.name, imageId: r.image_id, target: r.target }));
  }

  /**
   * Records a pulled image and points `names` at it, in one transaction. A name that
   * pointed elsewhere moves; the image it left keeps its other names (as in containerd,
   * an image whose tag moved stays listed by its digest until removed).
   */
  putImage(img: ImageRow, names: { name: string; target: string }[]): void {
    this.#tx(() => {
      this.#db.prepare(
        `INSERT INTO images (id, manifest_digest, manifest_media_type, config_json, facts,
           layers, chain_ids, size, pulled_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,
           manifest_media_type = excluded.manifest_media_type, layers = excluded.layers,
           size = excluded.size`,
      ).run(
        img.id,
        img.manifestDigest,
        img.manifestMediaType,
        img.configJson,
        encodeFacts(img.facts),
        JSON.stringify(img.layers),
        JSON.stringify(img.chainIds),
        img.size,
        img.pulledAtNs,
      );
      const put = this.#db.prepare(
        `INSERT INTO refs (name, image_id, target) VALUES (?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, target = excluded.target`,
      );
      for (const n of names) put.run(n.name, img.id, n.target);
    });
  }

  /** Removes an image and all its names. */
  deleteImage(id: string): void {
    this.#tx(() => {
      this.#db.prepare("DELETE FROM refs WHERE image_id = ?").run(id);
      this.#db.prepare("DELETE FROM images WHERE id = ?").run(id);
    });
  }

  /** Every snapshot. */
  snapshots(): SnapshotRow[] {
    return this.#all<SnapshotDbRow>("SELECT * FROM snapshots ORDER BY id").map(toSnapshot);
  }

  /** True when a container snapshot lists layer `chainId` among its lowers. */
  containerUses(chainId: string): boolean {
    return this.#db.prepare(
      `SELECT 1 FROM snapshots, json_each(snapshots.lowers)
       WHERE snapshots.kind = 'container' AND json_each.value = ? LIMIT 1`,
    ).get(chainId) !== undefined;
  }

  /** The snapshot with `key`, if any. */
  snapshot(key: string): SnapshotRow | undefined {
    const r = this.#db.prepare("SELECT * FROM snapshots WHERE key = ?").get(key) as
      | SnapshotDbRow
      | undefined;
    return r ? toSnapshot(r) : undefined;
  }

  /** Reserves a snapshot directory number for `key` (which must not exist yet). */
  addSnapshot(
    key: string,
    kind: "layer" | "container",
    state: SnapshotState,
    lowers: string[],
  ): number {
    const r = this.#db.prepare(
      "INSERT INTO snapshots (key, kind, state, lowers) VALUES (?, ?, ?, ?) RETURNING id",
    ).get(key, kind, state, JSON.stringify(lowers)) as { id: number };
    return Number(r.id);
  }

  /** Marks a layer snapshot complete, with its disk usage. */
  commitSnapshot(key: string, usage: { bytes: number; inodes: number }): void {
    this.#db.prepare(
      "UPDATE snapshots SET state = 'committed', usage_bytes = ?, usage_inodes = ? WHERE key = ?",
    ).run(usage.bytes, usage.inodes, key);
  }

  /** Forgets a snapshot (its directory is the caller's to remove). */
  deleteSnapshot(key: string): void {
    this.#db.prepare("DELETE FROM snapshots WHERE key = ?").run(key);
  }

  /** Closes the database. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

function toSnapshot(r: SnapshotDbRow): SnapshotRow {
  return {
    id: Number(r.id),
    key: r.key,
    kind: r.kind === "container" ? "container" : "layer",
    state: r.state as SnapshotState,
    lowers: JSON.parse(r.lowers) as string[],
    usageBytes: r.usage_bytes === null ? null : Number(r.usage_bytes),
    usageInodes: r.usage_inodes === null ? null : Number(r.usage_inodes),
  };
}
