/**
 * Spare shims: started ahead for a container id reserved in advance, used by that
 * container's create, dropped with their pod, and gone by themselves when unused.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { SKIP, withWorld } from "./_test_util.ts";
import { readShimPid, shimAlive } from "./_proc.ts";

const ignore = SKIP !== undefined;

Deno.test({
  name: "a spare shim serves the create of its reserved id",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const id = f.world.nextId();
      const logPath = f.world.logPath(id);
      const logDir = logPath.slice(0, logPath.lastIndexOf("/"));
      const bundle = await f.world.bundle(id, {
        args: ["sh", "-c", "echo from-spare"],
        tty: false,
      });
      f.manager.prespawn("pod-a", { id, bundle, runtime: f.runtime, logDir });
      assertEquals(f.manager.takeSpare("pod-b"), undefined, "spares are per key");
      assertEquals(f.manager.takeSpare("pod-a"), id);
      assertEquals(f.manager.takeSpare("pod-a"), undefined, "a spare is taken once");
      const h = await f.manager.create({
        id,
        bundle,
        runtime: f.runtime,
        logPath,
        tty: false,
        stdin: false,
        stdinOnce: false,
      });
      try {
        await h.start();
        assertEquals((await h.wait()).exitCode, 0);
        assert((await Deno.readTextFile(logPath)).includes("from-spare"));
      } finally {
        await h.delete();
      }
    }),
});

Deno.test({
  name: "a dropped spare leaves no shim and no state dir; an unused one exits by itself",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const a = f.world.nextId();
      f.manager.prespawn("pod-a", {
        id: a,
        bundle: `${f.world.dir}/none-${a}`,
        runtime: f.runtime,
      });
      const dirA = `${f.world.dir}/shims/${a}`;
      for (let i = 0; i < 200 && readShimPid(dirA) === undefined; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const pidA = readShimPid(dirA);
      assert(pidA !== undefined && shimAlive(pidA, a), "the spare runs");
      await f.manager.dropSpare("pod-a");
      assert(!shimAlive(pidA, a), "dropped spare is gone");
      assertEquals(await Deno.stat(dirA).then(() => true, () => false), false);

      const b = f.world.nextId();
      f.manager.prespawn("pod-b", {
        id: b,
        bundle: `${f.world.dir}/none-${b}`,
        runtime: f.runtime,
        idleMs: 1500,
      });
      const dirB = `${f.world.dir}/shims/${b}`;
      for (let i = 0; i < 200 && readShimPid(dirB) === undefined; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assert(readShimPid(dirB) !== undefined, "the second spare started");
      for (let i = 0; i < 400 && await Deno.stat(dirB).then(() => true, () => false); i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assertEquals(
        await Deno.stat(dirB).then(() => true, () => false),
        false,
        "idle spare cleaned up",
      );
      assertEquals(f.manager.takeSpare("pod-b"), undefined);
    }),
});
