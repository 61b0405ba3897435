import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { isPrefix, RuntimeCore, type RuntimeDeps } from "./core.ts";
import type { Container, ContainerDoc, Phase, Sandbox, SandboxDoc } from "./records.ts";
import { removeContainer } from "./container/remove.ts";
import { removePodSandbox } from "./pod/remove.ts";
import { ContainerConfig, PodSandboxConfig } from "../api/gen/api.ts";

/** A core whose lookups are all a test touches: nothing else of its services is reached. */
function core(): RuntimeCore {
  const images = { setInUse: () => {} };
  return new RuntimeCore({ config: {}, logger: {}, images } as unknown as RuntimeDeps);
}

function addContainer(c: RuntimeCore, id: string, phase: Phase): void {
  const doc = { id, sandboxId: "p", phase } as ContainerDoc;
  c.containers.set(id, { doc, config: ContainerConfig.create(), nameKey: id } as Container);
}

function addSandbox(c: RuntimeCore, id: string, phase: Phase): void {
  const doc = { id, phase } as SandboxDoc;
  c.sandboxes.set(id, { doc, config: PodSandboxConfig.create(), nameKey: id } as Sandbox);
}

const READY = `abc1${"0".repeat(60)}`;
const CREATING = `abc2${"0".repeat(60)}`;

Deno.test("lookups never reach a container still being created, by id or by prefix", () => {
  const c = core();
  addContainer(c, READY, "ready");
  addContainer(c, CREATING, "creating");
  assertEquals(c.findContainer(CREATING), undefined);
  assertEquals(c.findContainer("abc2"), undefined);
  const err = assertThrows(() => c.container("abc2"), SauropodError);
  assertEquals(err.kind, "not-found");
  // Not ambiguous either: the record in creation is not a candidate.
  assertEquals(c.container("abc").doc.id, READY);
  c.containers.get(CREATING)!.doc.phase = "ready";
  assertEquals(c.container("abc2").doc.id, CREATING);
  assertEquals(assertThrows(() => c.container("abc"), SauropodError).kind, "invalid-argument");
});

Deno.test("lookups never reach a pod sandbox still being created, by id or by prefix", () => {
  const c = core();
  addSandbox(c, READY, "ready");
  addSandbox(c, CREATING, "creating");
  assertEquals(c.findSandbox(CREATING), undefined);
  assertEquals(assertThrows(() => c.sandbox("abc2"), SauropodError).kind, "not-found");
  assertEquals(c.sandbox("abc").doc.id, READY);
});

Deno.test("removal of an unknown id succeeds, of a prefix that matches nothing is NOT_FOUND", async () => {
  const c = core();
  addContainer(c, CREATING, "creating");
  addSandbox(c, CREATING, "creating");
  await removeContainer(c, `f${"0".repeat(63)}`);
  await removePodSandbox(c, `f${"0".repeat(63)}`);
  await removeContainer(c, CREATING); // hidden: nothing to remove, and nothing removed
  await removePodSandbox(c, CREATING);
  for (const remove of [removeContainer, removePodSandbox]) {
    const err = await remove(c, "abc2").then(() => undefined, (e: unknown) => e);
    assertEquals(err instanceof SauropodError && err.kind, "not-found");
  }
  assertEquals(c.containers.has(CREATING) && c.sandboxes.has(CREATING), true);
});

Deno.test("isPrefix() is a short lower-case hex string", () => {
  assertEquals(isPrefix("abc"), true);
  assertEquals(isPrefix(READY), false);
  assertEquals(isPrefix("ABC"), false);
  assertEquals(isPrefix("pod-1"), false);
});
