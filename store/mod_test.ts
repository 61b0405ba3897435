// test-permissions: --allow-read --allow-write
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { MetadataStore } from "./mod.ts";
import { DatabaseSync } from "node:sqlite";

async function withStore(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-store-" });
  try {
    await fn(`${dir}/meta.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("MetadataStore keeps records across reopen", async () => {
  await withStore((path) => {
    const s = MetadataStore.open(path);
    s.put("sandbox", { id: "a", nameKey: "pod_ns_uid_0", doc: { n: 1, big: 5n } });
    s.put("container", { id: "c", nameKey: "ctr_pod", doc: { sandboxId: "a" } });
    s.close();
    const t = MetadataStore.open(path);
    assertEquals(t.all("sandbox"), [{ id: "a", nameKey: "pod_ns_uid_0", doc: { n: 1, big: "5" } }]);
    assertEquals(t.all("container").length, 1);
    t.delete("container", "c");
    t.delete("container", "c");
    assertEquals(t.all("container").length, 0);
    t.close();
  });
});

Deno.test("MetadataStore.put() refuses a name key held by another id", async () => {
  await withStore((path) => {
    const s = MetadataStore.open(path);
    try {
      s.put("sandbox", { id: "a", nameKey: "k", doc: {} });
      const err = assertThrows(
        () => s.put("sandbox", { id: "b", nameKey: "k", doc: {} }),
        SauropodError,
        'name "k" is already reserved',
      );
      assertEquals(err.kind, "already-exists");
      s.put("sandbox", { id: "a", nameKey: "k", doc: { updated: true } });
      assertEquals(s.all("sandbox")[0]?.doc, { updated: true });
    } finally {
      s.close();
    }
  });
});

Deno.test("MetadataStore.open() refuses a store from a newer schema", async () => {
  await withStore((path) => {
    MetadataStore.open(path).close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE meta SET value = '99' WHERE key = 'schema'");
    db.close();
    assertThrows(() => MetadataStore.open(path), SauropodError, "has schema 99");
  });
});
