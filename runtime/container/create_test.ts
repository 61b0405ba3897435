// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { ContainerEventType, Mount } from "../../api/gen/api.ts";
import { SauropodError } from "../../errors/mod.ts";
import { containerConfig, type FakeWorld, fakeWorld, IMAGE, settle } from "../_test_core.ts";
import { createContainer } from "./create.ts";
import { removeContainer } from "./remove.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Nothing of a failed create is left: no record, name, mount, bundle, shim or event. */
async function assertNothingLeft(w: FakeWorld): Promise<void> {
  await settle();
  assertEquals(w.core.containers.size, 0);
  assertEquals(w.core.containerNames.size, 0);
  assertEquals(w.store.records.container.size, 0);
  assertEquals(w.images.mounted.size, 0);
  assertEquals(w.shims.live.size, 0);
  const bundles = await Array.fromAsync(Deno.readDir(`${w.core.config.root}/containers`))
    .catch(() => []);
  assertEquals(bundles, []);
  assertEquals(w.events, []);
}

Deno.test("createContainer() records a ready container with its shim and publishes CREATED", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  const c = w.core.container(id);
  assertEquals([c.doc.state, c.doc.phase], ["created", "ready"]);
  assertEquals(c.doc.pid, w.shims.live.get(id)?.initPid);
  assertEquals(w.core.containerNames.get(c.nameKey), id);
  const saved = w.store.records.container.get(id) as { doc: { phase: string } };
  assertEquals(saved.doc.phase, "ready");
  assert(await exists(`${c.doc.bundle}/config.json`), "the bundle's spec is written");
  await settle();
  assertEquals(w.events.map((e) => e.containerEventType), [
    ContainerEventType.CONTAINER_CREATED_EVENT,
  ]);
});

Deno.test("createContainer() whose rootfs mount fails aborts the shim and leaves nothing", async () => {
  await using w = await fakeWorld();
  w.fail.add("mount");
  await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined),
    Error,
    "overlay mount failed",
  );
  await assertNothingLeft(w);
});

Deno.test("createContainer() whose shim fails to create unmounts the rootfs and leaves nothing", async () => {
  await using w = await fakeWorld();
  w.fail.add("shim-create");
  await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined),
    Error,
    "runc create",
  );
  assertEquals(w.images.calls.filter((c) => c.startsWith("unmount")).length, 1);
  await assertNothingLeft(w);
});

Deno.test("createContainer() in a pod that is not ready is FAILED_PRECONDITION and changes nothing", async () => {
  await using w = await fakeWorld();
  w.pod.doc.state = "notready";
  const err = await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined),
    SauropodError,
    "is not ready",
  );
  assertEquals(err.kind, "failed-precondition");
  assertEquals(w.images.calls, []);
  await assertNothingLeft(w);
});

Deno.test("a second container of the same name is ALREADY_EXISTS; the first is untouched", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  const err = await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined),
    SauropodError,
    "already reserved",
  );
  assertEquals(err.kind, "already-exists");
  assertEquals([...w.core.containers.keys()], [id]);
  assertEquals(w.images.mounted.size, 1);
});

Deno.test("createContainer() of an image that is not here is NOT_FOUND and reserves nothing", async () => {
  await using w = await fakeWorld();
  const config = containerConfig("web");
  config.image!.image = "example.test/missing:1";
  const err = await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, config, undefined),
    SauropodError,
    "pull it first",
  );
  assertEquals(err.kind, "not-found");
  assertEquals(w.core.containerNames.size, 0);
});

function withImageVolume(image: string): ReturnType<typeof containerConfig> {
  const config = containerConfig("web");
  config.mounts.push(
    Mount.fromPartial({ containerPath: "/data", readonly: true, image: { image } }),
  );
  return config;
}

Deno.test("createContainer() whose image volume's image is not here is NOT_FOUND naming the mount", async () => {
  await using w = await fakeWorld();
  const err = await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, withImageVolume("example.test/data:1"), undefined),
    SauropodError,
    'config.mounts[0].image: image "example.test/data:1" is not present',
  );
  assertEquals(err.kind, "not-found");
  assertEquals(w.images.calls, []);
  assertEquals(w.core.imageInUse(IMAGE.id), undefined);
  await assertNothingLeft(w);
});

Deno.test("createContainer() whose image volume fails to mount leaves no mount and pins nothing", async () => {
  await using w = await fakeWorld();
  w.fail.add("volume");
  await assertRejects(
    () => createContainer(w.core, w.pod.doc.id, withImageVolume(IMAGE.id), undefined),
    Error,
    "image volume mount failed",
  );
  assert(w.images.calls.some((c) => c.startsWith("unmount volumes ")), w.images.calls.join());
  assertEquals(w.images.volumes.size, 0);
  assertEquals(w.core.imageInUse(IMAGE.id), undefined);
  await assertNothingLeft(w);
});

Deno.test("an image volume pins its image until the container is removed", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, withImageVolume(IMAGE.id), undefined);
  const c = w.core.container(id);
  assertEquals(c.doc.imageVolumes, [{
    mount: 0,
    imageId: IMAGE.id,
    path: `${c.doc.bundle}/volumes/0`,
  }]);
  assertEquals(w.core.imageInUse(IMAGE.id), { containerId: id, volume: true });
  assertEquals([...w.images.volumes], [`${c.doc.bundle}/volumes/0`]);
  await removeContainer(w.core, id);
  assertEquals(w.images.volumes.size, 0);
  assertEquals(w.core.imageInUse(IMAGE.id), undefined);
});
