/**
 * The shim's checkpoint calls against real runc and CRIU: pause, `runc checkpoint`, resume.
 * Where CRIU cannot dump (this development machine: Debian's 3.17 fails on kernel 6.18's
 * vDSO), the failed dump must leave the container exactly as it was: running, not frozen,
 * its output still flowing into the CRI log. Where it can, the images land in the image
 * directory and the container keeps running (`--leave-running`).
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../testing/assert.ts";
import { isFailedPrecondition } from "../../errors/mod.ts";
import { RUNC } from "../../oci/_test_containers.ts";
import { createContainer, logLines, SKIP, withWorld } from "./_test_util.ts";

const ignore = SKIP !== undefined;
const COUNTER = ["sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.1; done"];

async function runcStatus(root: string, id: string): Promise<string> {
  const out = await new Deno.Command(RUNC, { args: ["--root", root, "state", id] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).status;
}

async function countLines(path: string): Promise<number> {
  return (await logLines(path).catch(() => [])).length;
}

async function grows(path: string): Promise<boolean> {
  const before = await countLines(path);
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if ((await countLines(path)) > before) return true;
  }
  return false;
}

Deno.test({
  name:
    "checkpoint: a dump leaves the container running and thawed, whether CRIU succeeds or fails",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      await using c = await createContainer(f, COUNTER);
      await c.start();
      const log = f.world.logPath(c.id);
      assert(await grows(log), "the counter writes to its log");
      const images = await Deno.makeTempDir({ dir: f.world.dir });
      const work = await Deno.makeTempDir({ dir: f.world.dir });
      await c.pause();
      assertEquals(await runcStatus(f.world.runcRoot, c.id), "paused");
      let failed: unknown;
      try {
        await c.checkpoint({
          imagePath: images,
          workPath: work,
          leaveRunning: true,
          timeoutMs: 60_000,
          tcpEstablished: true,
          extUnixSk: true,
          shellJob: false,
          fileLocks: true,
        });
      } catch (err) {
        failed = err;
      } finally {
        await c.resume();
      }
      if (failed) {
        // runc's own words, and CRIU's log where runc said it is.
        assertStringIncludes(String(failed), "criu failed");
        assert((await Deno.stat(`${work}/dump.log`)).isFile, "CRIU's log is kept");
      } else {
        assert((await Deno.stat(`${images}/inventory.img`)).isFile, "CRIU wrote its images");
      }
      // runc recorded the init's stdio for the restore to re-map.
      const fds = JSON.parse(await Deno.readTextFile(`${images}/descriptors.json`));
      assertEquals(fds.length, 3);
      assertEquals((await c.state()).status, "running");
      assertEquals(await runcStatus(f.world.runcRoot, c.id), "running");
      assert(await grows(log), "the counter still counts after the checkpoint");
      await c.kill(9);
      await c.wait();
    }),
});

Deno.test({
  name: "checkpoint: a container that is not running is refused, and stays as it was",
  ignore,
  fn: () =>
    withWorld(async (f) => {
      await using c = await createContainer(f, ["true"]);
      const dir = await Deno.makeTempDir({ dir: f.world.dir });
      const params = {
        imagePath: dir,
        workPath: dir,
        leaveRunning: true,
        timeoutMs: 10_000,
        tcpEstablished: false,
        extUnixSk: false,
        shellJob: false,
        fileLocks: false,
      };
      const created = await assertRejects(() => c.checkpoint(params));
      assert(isFailedPrecondition(created), String(created));
      assertStringIncludes(String(created), "only a running container can be checkpointed");
      await c.start();
      await c.wait();
      const stopped = await assertRejects(() => c.checkpoint(params));
      assert(isFailedPrecondition(stopped), String(stopped));
      assertEquals([...Deno.readDirSync(dir)], []);
    }),
});
