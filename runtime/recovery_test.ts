// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals } from "../testing/assert.ts";
import { containerConfig, type FakeWorld, fakeWorld } from "./_test_core.ts";
import { createContainer } from "./container/create.ts";
import { startContainer } from "./container/start.ts";
import { recover } from "./recovery.ts";
import type { ContainerDoc } from "./records.ts";

/** A container created (and started) before the "crash". */
async function running(w: FakeWorld, name: string): Promise<string> {
  const id = await createContainer(w.core, w.pod.doc.id, containerConfig(name), undefined);
  await startContainer(w.core, id);
  return id;
}

/** Rewrites the stored record of container `id` as a crash would have left it. */
function crashedAt(w: FakeWorld, id: string, doc: Partial<ContainerDoc>): void {
  const rec = w.store.records.container.get(id) as { doc: ContainerDoc };
  Object.assign(rec.doc, doc);
}

Deno.test("recover() rolls back a container whose creation a crash interrupted", async () => {
  await using w = await fakeWorld();
  const id = await running(w, "web");
  const bundle = w.core.container(id).doc.bundle;
  crashedAt(w, id, { phase: "creating", state: "created" });
  const core = w.restart();
  const report = await recover(core);
  assertEquals(report.rolledBack, 1);
  assertEquals(w.shims.cleaned.includes(id), true, "its shim and runc container went");
  assertEquals(w.images.mounted.has(id), false, "its rootfs was unmounted");
  assertEquals(await Deno.lstat(bundle).then(() => true, () => false), false);
  assertEquals(core.containers.size, 0);
  assertEquals(core.containerNames.size, 0);
  assertEquals(w.store.records.container.size, 0);
});

Deno.test("recover() finishes a removal a crash interrupted", async () => {
  await using w = await fakeWorld();
  const id = await running(w, "web");
  crashedAt(w, id, { phase: "removing" });
  const core = w.restart();
  const report = await recover(core);
  assertEquals(report.rolledForward, 1);
  assertEquals(core.containers.size, 0);
  assertEquals(w.store.records.container.size, 0);
  assertEquals(w.shims.live.size, 0);
  assertEquals(w.images.mounted.size, 0);
});

Deno.test("recover() reattaches a running container's live shim and sees its exit later", async () => {
  await using w = await fakeWorld();
  const id = await running(w, "web");
  const core = w.restart();
  const report = await recover(core);
  assertEquals(report.running, 1);
  const c = core.container(id);
  assertEquals([c.doc.state, c.shim?.id], ["running", id]);
  w.shims.live.get(id)!.exit(0);
  await c.exited;
  assertEquals([c.doc.state, c.doc.exitCode, c.doc.reason], ["exited", 0, "Completed"]);
});

Deno.test("a container whose shim died while the agent was down is exited as its shim recorded", async () => {
  await using w = await fakeWorld();
  const a = await running(w, "a");
  const b = await running(w, "b");
  // a's shim wrote its exit record and went; b's vanished without one.
  w.shims.live.delete(a);
  w.shims.live.delete(b);
  w.shims.exits.set(a, { exitCode: 2, exitedAtNs: 5n, oomKilled: true });
  const core = w.restart();
  const report = await recover(core);
  assertEquals(report.exitedWhileDown, 2);
  const ca = core.container(a).doc;
  assertEquals([ca.state, ca.exitCode, ca.reason, ca.finishedAtNs], [
    "exited",
    2,
    "OOMKilled",
    "5",
  ]);
  const cb = core.container(b).doc;
  assertEquals([cb.state, cb.exitCode], ["exited", 137]);
  assert(cb.message.includes("shim was gone"), cb.message);
  assertEquals(w.shims.cleaned.sort(), [a, b].sort());
});

Deno.test("recover() removes shims and runtime containers that no record claims", async () => {
  await using w = await fakeWorld();
  const id = await running(w, "web");
  w.shims.exits.set("1".repeat(64), { exitCode: 0, exitedAtNs: 1n, oomKilled: false });
  w.shims.runtimeOnly.add("2".repeat(64));
  const core = w.restart();
  const report = await recover(core);
  assertEquals(report.orphans.length, 2);
  assertEquals(w.shims.cleaned.sort(), ["1".repeat(64), "2".repeat(64)]);
  assertEquals(core.container(id).doc.state, "running");
});
