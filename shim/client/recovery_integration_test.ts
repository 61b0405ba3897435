import { assert, assertEquals } from "../../testing/assert.ts";
import { nullLogger } from "../../log/mod.ts";
import { sendSignal, Signal } from "../../ffi/process.ts";
import { ENTRY, SKIP, withWorld } from "./_test_util.ts";
import { ShimManager } from "./_manager.ts";
import { SHIM_DIED } from "./_handle.ts";
import { waitShimGone } from "./_proc.ts";

const ignore = SKIP !== undefined;
const STAND_IN = new URL("./testdata/stand_in_agent.ts", import.meta.url).pathname;

Deno.test({
  name: "the shim survives its agent's SIGKILL; a new manager reconnects and sees the exit",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const id = f.world.nextId();
      // The container exits 5 once /tmp/go exists (made by an exec after the reconnect).
      const bundle = await f.world.bundle(id, {
        args: ["sh", "-c", "until [ -e /tmp/go ]; do usleep 20000; done; exit 5"],
      });
      const stateRoot = `${f.world.dir}/shims`;
      const agent = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", STAND_IN, stateRoot, ENTRY, f.world.runcRoot, bundle, id],
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      let pids: { shimPid: number; initPid: number };
      try {
        const reader = agent.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!text.includes("\n")) {
          const r = await reader.read();
          if (r.done) throw new Error(`stand-in agent ended early: ${text}`);
          text += r.value;
        }
        pids = JSON.parse(text);
        reader.releaseLock();
      } finally {
        agent.kill("SIGKILL");
        await agent.status;
        await agent.stdout.cancel().catch(() => {});
      }
      // A fresh agent: new manager, same state root.
      const manager = new ShimManager({ stateRoot, entry: ENTRY, logger: nullLogger });
      assertEquals(await manager.ids(), [id]);
      const h = await manager.reconnect(id);
      assert(h, "the shim outlived its agent");
      assertEquals(h.shimPid, pids.shimPid);
      assertEquals(h.initPid, pids.initPid);
      assertEquals((await h.state()).status, "running");
      await h.execSync({ args: ["touch", "/tmp/go"] });
      const exit = await h.wait();
      assertEquals(exit.exitCode, 5);
      assertEquals(exit.reason, undefined);
      await h.delete();
      assertEquals(await manager.ids(), []);
      assertEquals(await f.world.runcContainers(), []);
    }),
});

Deno.test({
  name: "a SIGKILLed shim: wait() says so, and cleanup() leaves no runc container",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const id = f.world.nextId();
      const bundle = await f.world.bundle(id, { args: ["sleep", "1000"] });
      const h = await f.manager.create({
        id,
        bundle,
        runtime: f.runtime,
        tty: false,
        stdin: false,
        stdinOnce: false,
      });
      await h.start();
      const waiting = h.wait();
      sendSignal(h.shimPid, Signal.SIGKILL);
      const exit = await waiting;
      assertEquals(exit.reason, SHIM_DIED);
      assertEquals(exit.exitCode, 255);
      // The container outlived its shim; cleanup kills and deletes it.
      assertEquals(await f.world.runcContainers(), [id]);
      await f.manager.cleanup(id, f.runtime);
      assertEquals(await f.world.runcContainers(), []);
      assertEquals(await f.manager.ids(), []);
      assert(await waitShimGone(h.shimPid, id, 1000));
      // A handle whose shim is gone answers state from what it knows.
      assertEquals((await h.state()).status, "stopped");
      h.close();
    }),
});

Deno.test({
  name: "reconnect finds no shim when none runs, and lastExit reads what it left",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const id = f.world.nextId();
      const bundle = await f.world.bundle(id, { args: ["sh", "-c", "exit 2"] });
      const h = await f.manager.create({
        id,
        bundle,
        runtime: f.runtime,
        tty: false,
        stdin: false,
        stdinOnce: false,
      });
      await h.start();
      assertEquals((await h.wait()).exitCode, 2);
      sendSignal(h.shimPid, Signal.SIGKILL);
      assert(await waitShimGone(h.shimPid, id, 10_000));
      h.close();
      assertEquals(await f.manager.reconnect(id), undefined);
      assertEquals((await f.manager.lastExit(id))?.exitCode, 2);
      await f.manager.cleanup(id, f.runtime);
      assertEquals(await f.manager.ids(), []);
    }),
});
