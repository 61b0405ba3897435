import { assert, assertEquals } from "../../testing/assert.ts";
import { createContainer, logLines, readUntil, SKIP, withWorld } from "./_test_util.ts";

const ignore = SKIP !== undefined;

Deno.test({
  name: "the CRI log has both streams, a 100 KiB line as P pieces then F, and a cut last line as P",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const script = [
        "echo out",
        "echo err >&2",
        // 102400 = 6 × 16384 + 4096
        "head -c 102400 /dev/zero | tr '\\0' a",
        "echo",
        "printf 'crlf\\r\\n'",
        "printf 'no newline'",
      ].join("; ");
      await using c = await createContainer(f, ["sh", "-c", script]);
      await c.start();
      assertEquals((await c.wait()).exitCode, 0);
      const lines = await logLines(f.world.logPath(c.id));
      const stderr = lines.filter((l) => l.startsWith("stderr "));
      const stdout = lines.filter((l) => l.startsWith("stdout "));
      assertEquals(stderr, ["stderr F err"]);
      const a16 = "a".repeat(16384);
      assertEquals(stdout, [
        "stdout F out",
        ...Array(6).fill(`stdout P ${a16}`),
        `stdout F ${"a".repeat(4096)}`,
        "stdout F crlf",
        "stdout P no newline",
      ]);
      const raw = (await Deno.readTextFile(f.world.logPath(c.id))).split("\n")[0]!;
      assert(
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F out$/.test(raw),
        `timestamp format: ${raw}`,
      );
    }),
});

Deno.test({
  name: "reopenLog after a rename loses and duplicates nothing",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      const n = 1500;
      const script = `i=1; while [ $i -le ${n} ]; do echo $i; i=$((i+1)); usleep 500; done`;
      await using c = await createContainer(f, ["sh", "-c", script]);
      const path = f.world.logPath(c.id);
      await c.start();
      // Rotate as the kubelet does, while the container writes.
      for (let rotated = 0; rotated < 3;) {
        const size = (await Deno.stat(path).catch(() => ({ size: 0 }))).size;
        if (size < 2000) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        await Deno.rename(path, `${path}.${rotated++}`);
        await c.reopenLog();
      }
      assertEquals((await c.wait()).exitCode, 0);
      const all: string[] = [];
      for (const p of [`${path}.0`, `${path}.1`, `${path}.2`, path]) all.push(...await logLines(p));
      const expected = Array.from({ length: n }, (_, i) => `stdout F ${i + 1}`);
      assertEquals(all, expected);
      assert((await logLines(path)).length > 0, "the last file got lines after the reopen");
    }),
});

Deno.test({
  name: "without a log path nothing is written, yet an attacher sees the output",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      await using c = await createContainer(f, ["sh", "-c", "read x; echo got $x"], {
        log: false,
        stdin: true,
      });
      await c.start();
      const s = await c.attach({ stdin: true, stdout: true, stderr: true });
      const w = s.stdin!.getWriter();
      await w.write(new TextEncoder().encode("hi\n"));
      const text = await readUntil(s.stdout!.getReader(), /got hi\n/);
      assertEquals(text, "got hi\n");
      assertEquals((await s.exit).exitCode, 0);
      await w.close().catch(() => {});
      assertEquals([...Deno.readDirSync(`${f.world.dir}/logs`)], []);
    }),
});
