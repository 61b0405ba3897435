// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { ContainerEventType } from "../api/gen/api.ts";
import {
  canContainer,
  CONTAINER_TRANSITIONS,
  type ContainerEvent,
  containerTransition,
  podTransition,
  requireContainer,
} from "./state.ts";
import { containerConfig, fakeWorld, settle } from "./_test_core.ts";
import { createContainer } from "./container/create.ts";
import type { Container, ContainerState, Phase } from "./records.ts";

function at(state: ContainerState, phase: Phase): Container {
  return { doc: { id: "c", state, phase }, nameKey: "k" } as unknown as Container;
}

Deno.test("the container table: what may happen in each state and phase", () => {
  const legal = (state: ContainerState, phase: Phase) =>
    (Object.keys(CONTAINER_TRANSITIONS) as ContainerEvent[]).filter((e) =>
      canContainer(at(state, phase), e)
    );
  assertEquals(legal("created", "creating"), ["created", "removing", "discarded"]);
  assertEquals(legal("created", "ready"), [
    "started",
    "startFailed",
    "exited",
    "restored",
    "removing",
  ]);
  assertEquals(legal("running", "ready"), ["exited", "restored", "removing"]);
  assertEquals(legal("exited", "ready"), ["removing"]);
  assertEquals(legal("running", "removing"), ["exited", "removing", "removed"]);
  assertEquals(legal("exited", "removing"), ["removing", "removed"]);
});

Deno.test("requireContainer() says why a request is refused: the phase, else the state", () => {
  const e1 = assertThrows(
    () => requireContainer(at("created", "creating"), "started", "start it"),
    SauropodError,
    'container "c" is being created: cannot start it',
  );
  assertEquals(e1.kind, "failed-precondition");
  assertThrows(
    () => requireContainer(at("exited", "ready"), "started", "start it"),
    SauropodError,
    'container "c" is exited: cannot start it',
  );
});

Deno.test("an illegal transition is INTERNAL and changes, saves and publishes nothing", async () => {
  await using w = await fakeWorld();
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig("web"), undefined);
  const c = w.core.container(id);
  await settle();
  const before = structuredClone(w.store.records.container.get(id));
  const events = w.events.length;
  const err = assertThrows(
    () => containerTransition(w.core, c, "removed", { exitCode: 9 }),
    SauropodError,
    "cannot undergo",
  );
  assertEquals(err.kind, "internal");
  assertEquals(c.doc.exitCode, 0);
  assertEquals(w.store.records.container.get(id), before);
  await settle();
  assertEquals(w.events.length, events);
});

Deno.test("a pod transition persists and publishes in one call; gone deletes the record", async () => {
  await using w = await fakeWorld();
  podTransition(w.core, w.pod, "stopped");
  const saved = w.store.records.sandbox.get(w.pod.doc.id) as { doc: { state: string } };
  assertEquals(saved.doc.state, "notready");
  podTransition(w.core, w.pod, "removing");
  podTransition(w.core, w.pod, "removed");
  assertEquals(w.store.records.sandbox.size, 0);
  assert(!w.core.sandboxes.has(w.pod.doc.id));
  await settle();
  assertEquals(w.events.map((e) => e.containerEventType), [
    ContainerEventType.CONTAINER_STOPPED_EVENT,
    ContainerEventType.CONTAINER_DELETED_EVENT,
  ]);
});
