// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals, assertRejects } from "../../testing/assert.ts";
import { ContainerEventType } from "../../api/gen/api.ts";
import { containerConfig, fakeWorld, settle } from "../_test_core.ts";
import { createContainer } from "./create.ts";
import { startContainer } from "./start.ts";
import { removeContainer } from "./remove.ts";

Deno.test("removeContainer() of a running container kills and deletes it, unmounts, forgets it, publishes DELETED", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  await startContainer(w.core, id);
  const shim = w.shims.live.get(id)!;
  const bundle = w.core.container(id).doc.bundle;
  await removeContainer(w.core, id);
  assertEquals(shim.deleted, true);
  assertEquals(w.images.mounted.size, 0);
  assertEquals(await Deno.lstat(bundle).then(() => true, () => false), false);
  assertEquals(w.core.containers.size, 0);
  assertEquals(w.core.containerNames.size, 0);
  assertEquals(w.store.records.container.size, 0);
  await settle();
  assertEquals(w.events.slice(-2).map((e) => e.containerEventType), [
    ContainerEventType.CONTAINER_STOPPED_EVENT,
    ContainerEventType.CONTAINER_DELETED_EVENT,
  ]);
});

Deno.test("a removal that fails midway keeps the record marked removing; the next one finishes", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  w.fail.add("unmount");
  await assertRejects(() => removeContainer(w.core, id), Error, "target is busy");
  const saved = w.store.records.container.get(id) as { doc: { phase: string } };
  assertEquals(saved.doc.phase, "removing");
  assertEquals(w.core.container(id).doc.phase, "removing");
  w.fail.delete("unmount");
  await removeContainer(w.core, id);
  assertEquals(w.store.records.container.size, 0);
  assertEquals(w.images.mounted.size, 0);
});

Deno.test("removing an unknown container succeeds (the CRI makes removal idempotent)", async () => {
  await using w = await fakeWorld();
  await removeContainer(w.core, "f".repeat(64));
  await settle();
  assertEquals(w.events, []);
});
