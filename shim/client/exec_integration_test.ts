import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { zombieChildren } from "../../oci/_test_containers.ts";
import {
  createContainer,
  readAll,
  readUntil,
  SKIP,
  withRunningContainer,
  withWorld,
} from "./_test_util.ts";

const ignore = SKIP !== undefined;
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test({
  name: "execSync returns the exit code, stdout and stderr",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const r = await c.execSync({
        args: ["sh", "-c", "echo out; echo err >&2; echo $GREETING from $(pwd); exit 7"],
        env: ["GREETING=hello"],
        cwd: "/tmp",
      });
      assertEquals(r.exitCode, 7);
      assertEquals(dec(r.stdout), "out\nhello from /tmp\n");
      assertEquals(dec(r.stderr), "err\n");
      assertEquals(r.timedOut, false);
    }),
});

Deno.test({
  name: "execSync kills the process at its timeout and says so",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const r = await c.execSync({
        args: ["sh", "-c", "echo started; sleep 1000"],
        timeoutMs: 300,
      });
      assertEquals(r.timedOut, true);
      assertEquals(r.exitCode, 137);
      assertEquals(dec(r.stdout), "started\n");
      // The killed process is gone from the container, not left running.
      const ps = await c.execSync({ args: ["ps", "-o", "args"] });
      assert(!dec(ps.stdout).includes("sleep 1000\nsh"), dec(ps.stdout));
      assertEquals(dec(ps.stdout).match(/sleep 1000/g)?.length, 1, dec(ps.stdout));
    }),
});

Deno.test({
  name: "execSync keeps at most outputLimit bytes of each stream and still reaps the process",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const r = await c.execSync({
        args: ["sh", "-c", "head -c 300000 /dev/zero; head -c 5000 /dev/zero >&2"],
        outputLimit: 1000,
      });
      assertEquals(r.exitCode, 0);
      assertEquals(r.stdout.byteLength, 1000);
      assertEquals(r.stderr.byteLength, 1000);
    }),
});

Deno.test({
  name: "execSync of a missing binary fails with runc's own message",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const err = await assertRejects(() => c.execSync({ args: ["nosuchcmd"] }), SauropodError);
      assertStringIncludes(err.message, `"nosuchcmd": executable file not found`);
    }),
});

Deno.test({
  name: "50 execSyncs (20 of them at once) leave no zombie and no stolen runc status",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      for (let i = 0; i < 30; i++) {
        const r = await c.execSync({ args: ["sh", "-c", `exit ${i % 5}`] });
        assertEquals(r.exitCode, i % 5);
      }
      // Concurrent: runc processes (Deno.Command children of the shim) start and end while
      // exec'd processes the shim reaps itself exit around them. A stolen status would fail
      // a runc call with ECHILD.
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => c.execSync({ args: ["echo", String(i)] })),
      );
      assertEquals(results.map((r) => dec(r.stdout)), results.map((_, i) => `${i}\n`));
      assertEquals(zombieChildren(c.shimPid), []);
      assertEquals(zombieChildren(c.initPid), []);
    }),
});

Deno.test({
  name: "a streaming exec carries stdin to the process and its exit code back",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const s = await c.exec({
        args: ["sh", "-c", "cat; echo done >&2; exit 9"],
        tty: false,
        stdin: true,
      });
      const w = s.stdin!.getWriter();
      await w.write(enc("line one\n"));
      await w.write(enc("line two\n"));
      await w.close();
      const [out, err] = await Promise.all([readAll(s.stdout), readAll(s.stderr)]);
      assertEquals(out, "line one\nline two\n");
      assertEquals(err, "done\n");
      assertEquals((await s.exit).exitCode, 9);
    }),
});

Deno.test({
  name: "closing a streaming exec early kills its process",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const s = await c.exec({
        args: ["sh", "-c", "echo up; sleep 1000"],
        tty: false,
        stdin: false,
      });
      await readUntil(s.stdout!.getReader(), /up\n/);
      s.close();
      await assertRejects(() => s.exit, SauropodError, "closed");
      // The shim kills and reaps it: only the container's own sleep is left.
      for (;;) {
        const ps = dec((await c.execSync({ args: ["ps", "-o", "args"] })).stdout);
        if (!ps.includes("sh -c echo up")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(zombieChildren(c.shimPid), []);
    }),
});

Deno.test({
  name: "a timed-out or abandoned exec takes its background children with it",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const r = await c.execSync({
        args: ["sh", "-c", "sleep 4321 & echo bg; wait"],
        timeoutMs: 300,
      });
      assertEquals(r.timedOut, true);
      const s = await c.exec({
        args: ["sh", "-c", "sleep 4322 & echo ready; wait"],
        tty: false,
        stdin: false,
      });
      await readUntil(s.stdout!.getReader(), /ready\n/);
      s.close();
      await assertRejects(() => s.exit, SauropodError, "closed");
      for (;;) {
        const ps = dec((await c.execSync({ args: ["ps", "-o", "args"] })).stdout);
        if (!/sleep 432[12]|sh -c/.test(ps)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(zombieChildren(c.shimPid), []);
    }),
});

Deno.test({
  name: "two attachers see the output; a detach leaves the container running",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const script = 'read a; echo "one:$a"; read b; echo "two:$b"; exec sleep 1000';
      await using c = await createContainer(f, ["sh", "-c", script], { stdin: true });
      await c.start();
      const first = await c.attach({ stdin: true, stdout: true, stderr: true });
      const second = await c.attach({ stdin: false, stdout: true, stderr: true });
      const r1 = first.stdout!.getReader();
      const r2 = second.stdout!.getReader();
      await first.stdin!.getWriter().write(enc("x\n"));
      assertEquals(await readUntil(r1, /one:x\n/), "one:x\n");
      const seen2 = { text: "" };
      await readUntil(r2, /one:x\n/, seen2);
      first.close();
      await assertRejects(() => first.exit, SauropodError);
      assertEquals((await c.state()).status, "running");
      // Without stdin_once the container's stdin stays open for the next attacher.
      const third = await c.attach({ stdin: true, stdout: false, stderr: false });
      await third.stdin!.getWriter().write(enc("y\n"));
      await readUntil(r2, /two:y\n/, seen2);
      await c.kill(9);
      assertEquals((await second.exit).exitCode, 137);
      assertEquals((await third.exit).exitCode, 137);
      await c.wait();
    }),
});

Deno.test({
  name: "stdin_once closes the container's stdin when the first attacher detaches",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      await using c = await createContainer(f, ["sh", "-c", "cat; echo eof"], {
        stdin: true,
        stdinOnce: true,
      });
      await c.start();
      const s = await c.attach({ stdin: true, stdout: true, stderr: false });
      const reader = s.stdout!.getReader();
      await s.stdin!.getWriter().write(enc("data\n"));
      await readUntil(reader, /data\n/);
      s.close();
      // cat sees end of file only because the detach closed its stdin.
      assertEquals((await c.wait()).exitCode, 0);
    }),
});
