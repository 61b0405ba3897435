// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals, assertRejects } from "../testing/assert.ts";
import { ContentStore } from "./_content.ts";
import { sha256 } from "./_digest.ts";

Deno.test("ContentStore: a blob whose deletion has started is gone for has, read and ingest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-content-" });
  try {
    const store = await ContentStore.open(dir);
    const bytes = new TextEncoder().encode("layer bytes");
    const digest = sha256(bytes);
    for (let i = 0; i < 20; i++) {
      await store.put(digest, bytes);
      assertEquals(await store.has(digest), true);
      // Garbage collection starts the deletion; a pull asks in the same tick.
      const deleting = store.delete(digest);
      assertEquals(await store.has(digest, bytes.length), false, `round ${i}`);
      await assertRejects(() => store.read(digest), Deno.errors.NotFound);
      // ingest sees no blob, so it downloads again rather than trusting a vanishing file.
      let fetched = 0;
      const got = await store.ingest(digest, bytes.length, () => {
        fetched++;
        return Promise.resolve({
          offset: 0,
          body: (async function* () {
            yield bytes;
          })(),
        });
      }, {});
      assertEquals([got, fetched], ["fetched", 1]);
      await deleting;
      await store.delete(digest);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
