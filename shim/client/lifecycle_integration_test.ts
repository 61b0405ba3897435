import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { EXIT_FILE, parseExitInfo } from "../protocol.ts";
import { createContainer, ENTRY, SKIP, withRunningContainer, withWorld } from "./_test_util.ts";
import { bundleShim } from "./_bundle.ts";
import { ShimManager } from "./_manager.ts";
import { nullLogger } from "../../log/mod.ts";

const ignore = SKIP !== undefined;

Deno.test({
  name: "a container that exits on its own reports its code and leaves an exit record",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      for (const code of [0, 3]) {
        await using c = await createContainer(f, ["sh", "-c", `exit ${code}`]);
        assertEquals((await c.state()).status, "created");
        assert(c.initPid > 0 && c.shimPid > 0);
        const before = BigInt(Date.now()) * 1_000_000n;
        const { startedAtNs } = await c.start();
        const exit = await c.wait();
        assertEquals(exit.exitCode, code);
        assertEquals(exit.oomKilled, false);
        assertEquals(exit.reason, undefined);
        assert(exit.exitedAtNs >= before - 1_000_000_000n, "exit time is now-ish");
        // Both times come from the shim's one clock: the end never precedes the start.
        assert(startedAtNs >= before - 1_000_000_000n, "start time is now-ish");
        assert(exit.exitedAtNs > startedAtNs, "finished after started");
        const st = await c.state();
        assertEquals(st.status, "stopped");
        assertEquals(st.exit?.exitCode, code);
        // The record on disk says the same, written atomically beside the socket.
        const disk = parseExitInfo(
          JSON.parse(await Deno.readTextFile(`${f.world.dir}/shims/${c.id}/${EXIT_FILE}`)),
        );
        assertEquals(disk.exitCode, code);
        assertEquals(BigInt(disk.exitedAtNs), exit.exitedAtNs);
        assertMatch(disk.exitedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      }
    }),
});

Deno.test({
  name: "a container killed by a signal exits with 128 + the signal",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      for (const [sig, code] of [[9, 137], [15, 143]] as const) {
        // A pid namespace's init gets only the signals it handles (SIGKILL aside), so the
        // SIGTERM case shares the host's pid namespace, where sleep is not PID 1.
        await using c = await createContainer(f, ["sleep", "1000"], {
          bundle: { args: ["sleep", "1000"], hostPid: sig !== 9 },
        });
        await c.start();
        assertEquals((await c.state()).status, "running");
        await c.kill(sig);
        const exit = await c.wait();
        assertEquals(exit.exitCode, code);
        assertEquals(exit.signal, sig);
        await assertRejects(() => c.kill(9), SauropodError, "already exited");
      }
    }),
});

Deno.test({
  name: "a runc failure surfaces runc's own message and leaves nothing behind",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const err = await assertRejects(
        () => createContainer(f, ["/no/such/binary"]),
        SauropodError,
      );
      assertStringIncludes(err.message, "/no/such/binary");
      assertStringIncludes(err.message, "no such file or directory");
      assertEquals(await f.world.runcContainers(), []);
      assertEquals(await f.manager.ids(), []);
    }),
});

Deno.test({
  name: "delete of a running container kills it, stops the shim and removes its state",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const c = await createContainer(f, ["sleep", "1000"]);
      await c.start();
      const waiting = c.wait();
      await c.delete();
      assertEquals((await waiting).exitCode, 137);
      assertEquals(await f.world.runcContainers(), []);
      assertEquals(await f.manager.ids(), []);
      // Deleting twice is fine (CRI RemoveContainer is idempotent).
      await f.manager.cleanup(c.id, f.runtime);
    }),
});

Deno.test({
  name: "an OOM-killed container is reported as oomKilled with exit code 137",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      // tail keeps the one endless "line" of /dev/zero in memory until the limit kills it.
      await using c = await createContainer(f, ["tail", "/dev/zero"], {
        bundle: { args: ["tail", "/dev/zero"], memoryLimit: 16 << 20 },
      });
      await c.start();
      const exit = await c.wait();
      assertEquals(exit.exitCode, 137);
      assertEquals(exit.oomKilled, true);
    }),
});

Deno.test({
  name: "update applies OCI resources through runc update",
  ignore,
  fn: () =>
    withRunningContainer(async (c, f) => {
      await c.update({ memory: { limit: 64 << 20, swap: 64 << 20 } });
      const cg = `/sys/fs/cgroup/memory/${f.world.cgroupParent}/${c.id}/memory.limit_in_bytes`;
      assertEquals((await Deno.readTextFile(cg)).trim(), String(64 << 20));
    }),
});

Deno.test({
  name: "a runtime call past its deadline is killed and fails with deadline-exceeded naming it",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      // A stand-in runtime that never answers (runc cannot be made to hang on purpose).
      const hang = `${f.world.dir}/hanging-runtime`;
      await Deno.writeTextFile(hang, "#!/bin/sh\nexec sleep 1000\n");
      await Deno.chmod(hang, 0o755);
      const id = f.world.nextId();
      const bundle = await f.world.bundle(id, { args: ["true"] });
      const err = await assertRejects(
        () =>
          f.manager.create({
            id,
            bundle,
            runtime: { ...f.runtime, binary: hang, callTimeoutMs: 300 },
            tty: false,
            stdin: false,
            stdinOnce: false,
          }),
        SauropodError,
      );
      assertEquals(err.kind, "deadline-exceeded");
      assertStringIncludes(err.message, `runtime call "create" for container "${id}"`);
      assertEquals(await f.manager.ids(), []);
    }),
});

Deno.test({
  name: "a shim bundled into one file runs a container like the sources do",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const entry = await bundleShim(`${f.world.dir}/shim.js`);
      assert(entry !== ENTRY);
      const manager = new ShimManager({
        stateRoot: `${f.world.dir}/shims`,
        entry,
        logger: nullLogger,
      });
      await using c = await createContainer({ ...f, manager }, ["sh", "-c", "read x; exit 4"], {
        stdin: true,
      });
      assertStringIncludes(
        await Deno.readTextFile(`/proc/${c.shimPid}/cmdline`),
        `${f.world.dir}/shim.js`,
      );
      await c.start();
      const r = await c.execSync({ args: ["echo", "bundled"] });
      assertEquals(new TextDecoder().decode(r.stdout), "bundled\n");
      const s = await c.attach({ stdin: true, stdout: false, stderr: false });
      await s.stdin!.getWriter().write(new TextEncoder().encode("go\n"));
      assertEquals((await c.wait()).exitCode, 4);
    }),
});
