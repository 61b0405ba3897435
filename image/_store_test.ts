// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { DatabaseSync } from "node:sqlite";
import { assertEquals } from "../testing/assert.ts";
import { ImageDb } from "./_store.ts";

/** The version-1 schema, as the first release created it. */
const SCHEMA_1 = `
  CREATE TABLE images (id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL, config_json TEXT NOT NULL, layers TEXT NOT NULL,
    chain_ids TEXT NOT NULL, size INTEGER NOT NULL, pulled_at_ns INTEGER NOT NULL);
  CREATE TABLE refs (name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, target TEXT NOT NULL);
  CREATE INDEX refs_image ON refs(image_id);
  CREATE TABLE snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL, state TEXT NOT NULL, lowers TEXT NOT NULL DEFAULT '[]',
    usage_bytes INTEGER, usage_inodes INTEGER);
  PRAGMA user_version = 1;
`;

Deno.test("ImageDb migrates a version-1 store: each config's facts are taken once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-imagedb-" });
  try {
    const path = `${dir}/meta.db`;
    const config = JSON.stringify({
      created: "2024-01-02T03:04:05Z",
      config: { User: "1000", Cmd: ["sh"], Labels: { a: "b" }, ExposedPorts: { "80/tcp": {} } },
      rootfs: { type: "layers", diff_ids: [] },
    });
    const old = new DatabaseSync(path);
    old.exec(SCHEMA_1);
    old.prepare("INSERT INTO images VALUES (?, ?, ?, ?, '[]', '[]', 10, 7)").run(
      "sha256:" + "a".repeat(64),
      "sha256:" + "b".repeat(64),
      "application/vnd.oci.image.manifest.v1+json",
      config,
    );
    old.close();
    const db = ImageDb.open(path);
    try {
      const [img] = db.images();
      assertEquals(img?.facts.summary.user, "1000");
      assertEquals(img?.facts.summary.cmd, ["sh"]);
      assertEquals(img?.facts.summary.labels, { a: "b" });
      assertEquals(img?.facts.summary.exposedPorts, ["80/tcp"]);
      assertEquals(img?.facts.createdAtNs, BigInt(Date.parse("2024-01-02T03:04:05Z")) * 1_000_000n);
      assertEquals(db.configJson("sha256:" + "a".repeat(64)), config);
    } finally {
      db.close();
    }
    // Opening again finds version 2 and changes nothing.
    const again = ImageDb.open(path);
    assertEquals(again.images().length, 1);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
