// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { ContainerEventType } from "../../api/gen/api.ts";
import { SauropodError } from "../../errors/mod.ts";
import { containerConfig, fakeWorld, settle } from "../_test_core.ts";
import { createContainer } from "./create.ts";
import { startContainer } from "./start.ts";
import { stopContainer } from "./stop.ts";

const { CONTAINER_CREATED_EVENT, CONTAINER_STARTED_EVENT, CONTAINER_STOPPED_EVENT } =
  ContainerEventType;

Deno.test("startContainer() runs a created container, started at the shim's time, and publishes STARTED", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  await startContainer(w.core, id);
  const c = w.core.container(id);
  assertEquals(c.doc.state, "running");
  assert(BigInt(c.doc.startedAtNs) > 0n);
  await settle();
  assertEquals(w.events.map((e) => e.containerEventType), [
    CONTAINER_CREATED_EVENT,
    CONTAINER_STARTED_EVENT,
  ]);
});

Deno.test("a start that fails leaves the container exited with StartError, 128, and publishes STOPPED", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  w.fail.add("shim-start");
  await assertRejects(() => startContainer(w.core, id), SauropodError, "exec format error");
  const c = w.core.container(id);
  assertEquals([c.doc.state, c.doc.exitCode, c.doc.reason], ["exited", 128, "StartError"]);
  assert(c.doc.message.includes("exec format error"));
  assert(BigInt(c.doc.finishedAtNs) > 0n);
  const saved = w.store.records.container.get(id) as { doc: { state: string } };
  assertEquals(saved.doc.state, "exited");
  await settle();
  assertEquals(w.events.at(-1)?.containerEventType, CONTAINER_STOPPED_EVENT);
});

Deno.test("starting a container that is not created is FAILED_PRECONDITION naming its state", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  await startContainer(w.core, id);
  const err = await assertRejects(() => startContainer(w.core, id), SauropodError, "is running");
  assertEquals(err.kind, "failed-precondition");
});

Deno.test("an exit is recorded once: Error or Completed, finished after started, STOPPED", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  await startContainer(w.core, id);
  w.shims.live.get(id)!.exit(3);
  await w.core.container(id).exited;
  const c = w.core.container(id);
  assertEquals([c.doc.state, c.doc.exitCode, c.doc.reason, c.doc.pid], ["exited", 3, "Error", 0]);
  assert(BigInt(c.doc.finishedAtNs) > BigInt(c.doc.startedAtNs), "finished after started");
  // Stopping what has exited changes nothing.
  await stopContainer(w.core, id, 10);
  await settle();
  assertEquals(
    w.events.filter((e) => e.containerEventType === CONTAINER_STOPPED_EVENT).length,
    1,
  );
});

Deno.test("a shim that dies is cleaned up and its container exited with 137 and the reason", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  await startContainer(w.core, id);
  w.shims.live.get(id)!.die();
  await w.core.container(id).exited;
  const c = w.core.container(id);
  assertEquals([c.doc.state, c.doc.exitCode, c.doc.message], ["exited", 137, "gone"]);
  assertEquals(w.shims.cleaned, [id]);
  assertEquals(c.shim, undefined);
});
