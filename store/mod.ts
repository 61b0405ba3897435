/**
 * The metadata store: pod sandbox and container records, crash-safe.
 *
 * `node:sqlite` (built into Deno) in WAL mode with `synchronous = FULL`: a committed write
 * survives a kill -9 or a power cut, and a crash mid-write leaves the previous state.
 * Records are JSON documents; the store only indexes what it must enforce (ids, and the
 * name reservations the CRI requires to be unique).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { alreadyExists, internal, resourceExhausted, SauropodError } from "../errors/mod.ts";

/** A stored record: an id, its unique name key, and the document. */
export interface StoredRecord<T> {
  id: string;
  nameKey: string;
  doc: T;
}

/** Which table a record lives in. */
export type RecordKind = "sandbox" | "container";

const SCHEMA_VERSION = 1;

/** The store. One per agent; methods are synchronous and fast (no network, one fsync). */
export class MetadataStore {
  readonly #db: DatabaseSync;
  readonly #put: Record<RecordKind, StatementSync>;
  readonly #del: Record<RecordKind, StatementSync>;
  readonly #all: Record<RecordKind, StatementSync>;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    const stmt = (sql: string) => db.prepare(sql);
    this.#put = {
      sandbox: stmt(
        "INSERT INTO sandboxes (id, name_key, doc) VALUES (?, ?, ?) " +
          "ON CONFLICT(id) DO UPDATE SET name_key = excluded.name_key, doc = excluded.doc",
      ),
      container: stmt(
        "INSERT INTO containers (id, name_key, doc) VALUES (?, ?, ?) " +
          "ON CONFLICT(id) DO UPDATE SET name_key = excluded.name_key, doc = excluded.doc",
      ),
    };
    this.#del = {
      sandbox: stmt("DELETE FROM sandboxes WHERE id = ?"),
      container: stmt("DELETE FROM containers WHERE id = ?"),
    };
    this.#all = {
      sandbox: stmt("SELECT id, name_key, doc FROM sandboxes ORDER BY rowid"),
      container: stmt("SELECT id, name_key, doc FROM containers ORDER BY rowid"),
    };
  }

  /**
   * Opens (creating if needed) the store at `path`. A new file is made 0600 first: records
   * hold whole container configs (their env too), and SQLite gives its `-wal` and `-shm`
   * files the database file's mode.
   */
  static open(path: string): MetadataStore {
    let db: DatabaseSync;
    try {
      if (path !== ":memory:") {
        Deno.openSync(path, { create: true, append: true, mode: 0o600 }).close();
      }
      db = new DatabaseSync(path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = FULL");
      db.exec("PRAGMA busy_timeout = 5000");
      db.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
      db.exec(
        `CREATE TABLE IF NOT EXISTS sandboxes (
           id TEXT PRIMARY KEY, name_key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`,
      );
      db.exec(
        `CREATE TABLE IF NOT EXISTS containers (
           id TEXT PRIMARY KEY, name_key TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)`,
      );
      const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
        | { value: string }
        | undefined;
      if (!row) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(
          String(SCHEMA_VERSION),
        );
      } else if (Number(row.value) > SCHEMA_VERSION) {
        throw internal(
          `metadata store ${path} has schema ${row.value}, newer than this sauropod ` +
            `understands (${SCHEMA_VERSION}); refusing to touch it`,
        );
      }
    } catch (err) {
      if (err instanceof SauropodError) throw err;
      throw storeError(err, `cannot open metadata store ${path}`);
    }
    return new MetadataStore(db);
  }

  /** Inserts or replaces a record; a name key held by another id is already-exists. */
  put<T>(kind: RecordKind, rec: StoredRecord<T>): void {
    try {
      this.#put[kind].run(rec.id, rec.nameKey, JSON.stringify(rec.doc, bigintReplacer));
    } catch (err) {
      if (String(err).includes("UNIQUE constraint failed")) {
        throw alreadyExists(`${kind} name "${rec.nameKey}" is already reserved`, { cause: err });
      }
      throw storeError(err, `cannot save ${kind} "${rec.id}"`);
    }
  }

  /** Deletes a record; deleting what is not there is fine. */
  delete(kind: RecordKind, id: string): void {
    try {
      this.#del[kind].run(id);
    } catch (err) {
      throw storeError(err, `cannot delete ${kind} "${id}"`);
    }
  }

  /** Every record of `kind`, oldest first. */
  all<T>(kind: RecordKind): StoredRecord<T>[] {
    const rows = this.#all[kind].all() as { id: string; name_key: string; doc: string }[];
    return rows.map((r) => ({ id: r.id, nameKey: r.name_key, doc: JSON.parse(r.doc) as T }));
  }

  /** Closes the database (the WAL is checkpointed). */
  close(): void {
    try {
      this.#db.close();
    } catch {
      // already closed
    }
  }
}

/** bigints are stored as decimal strings; the record types declare them as strings. */
function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function storeError(err: unknown, context: string): SauropodError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/disk is full|SQLITE_FULL|No space left/i.test(msg)) {
    return resourceExhausted(`${context}: the disk holding the metadata store is full (${msg})`, {
      cause: err,
    });
  }
  return internal(`${context}: ${msg}`, { cause: err });
}
