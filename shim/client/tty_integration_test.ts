import { assertEquals, assertMatch, assertRejects } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import {
  createContainer,
  logLines,
  readAll,
  readUntil,
  SKIP,
  withRunningContainer,
  withWorld,
} from "./_test_util.ts";

const ignore = SKIP !== undefined;
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test({
  name: "a tty container gets a pty from runc, and resize shows in stty size",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      await using c = await createContainer(f, ["sh", "-c", "tty; read x; stty size"], {
        tty: true,
        stdin: true,
      });
      // Attach before start, so the first line cannot be missed.
      const s = await c.attach({ stdin: true, stdout: true, stderr: false });
      await c.start();
      const reader = s.stdout!.getReader();
      const seen = { text: "" };
      await readUntil(reader, /\/dev\/pts\/\d+\r\n/, seen);
      await c.resize({ width: 123, height: 45 });
      await s.stdin!.getWriter().write(enc("go\n"));
      await readUntil(reader, /45 123\r\n/, seen);
      assertEquals((await s.exit).exitCode, 0);
      // The pty's output is the log's stdout; the line discipline's CRLF ends lines.
      const lines = await logLines(f.world.logPath(c.id));
      assertMatch(lines[0]!, /^stdout F \/dev\/pts\/\d+$/);
      assertEquals(lines.at(-1), "stdout F 45 123");
    }),
});

Deno.test({
  name: "resize of a container without a tty is refused",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      await assertRejects(() => c.resize({ width: 80, height: 24 }), SauropodError, "no terminal");
    }),
});

Deno.test({
  name: "a streaming exec with a tty runs on its own pty and follows resizes",
  ignore,
  fn: () =>
    withRunningContainer(async (c) => {
      const s = await c.exec({
        args: ["sh", "-c", "tty; read x; stty size; exit 4"],
        tty: true,
        stdin: true,
      });
      const reader = s.stdout!.getReader();
      const seen = { text: "" };
      await readUntil(reader, /\/dev\/pts\/\d+\r\n/, seen);
      await s.resize({ width: 77, height: 33 });
      await s.stdin!.getWriter().write(enc("\n"));
      await readUntil(reader, /33 77\r\n/, seen);
      assertEquals((await s.exit).exitCode, 4);
      reader.releaseLock();
      await readAll(s.stdout);
    }),
});
