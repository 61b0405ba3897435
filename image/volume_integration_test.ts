/**
 * Image volumes at the image service: an image's layers mounted read-only with no upper
 * layer, a sub directory of it resolved beneath the image's root, and the refusals, each
 * leaving nothing mounted.
 */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { testRegistry } from "../tests/fixtures/images.ts";
import { cannotRun, mountsUnder, openTestService } from "./_test_env.ts";

const ignore = cannotRun();

Deno.test({
  name: "mountVolume() mounts an image read-only, or one directory of it, and refuses escapes",
  ignore: ignore !== undefined,
  sanitizeResources: false,
  async fn(t) {
    await using env = await testRegistry();
    await using ts = await openTestService();
    const whiteouts = await ts.svc.pull(env.images.whiteouts.ref);
    const links = await ts.svc.pull(env.images.links.ref);
    const dir = await Deno.makeTempDir({ prefix: "sauropod-volume-test-" });
    try {
      await t.step("the whole image: the merged layers, and no write gets through", async () => {
        await Deno.mkdir(`${dir}/all`);
        ts.svc.mountVolume(whiteouts, `${dir}/all`, "", "f");
        assertEquals(mountsUnder(dir), [`${dir}/all`]);
        // w/d/x was deleted by a later layer: the volume is the stack, not one layer.
        assertEquals(Deno.readTextFileSync(`${dir}/all/w/d/y`), "y");
        assertThrows(() => Deno.statSync(`${dir}/all/w/d/x`), Deno.errors.NotFound);
        assertThrows(() => Deno.writeTextFileSync(`${dir}/all/w/new`, "x"));
        assertThrows(() => Deno.writeTextFileSync(`${dir}/all/w/b`, "x"));
        assertEquals(Deno.readTextFileSync(`${dir}/all/w/b`), "b");
        await ts.svc.unmountVolumes(dir);
        assertEquals(mountsUnder(dir), []);
      });

      await t.step("a sub directory: only it is reachable, read-only", async () => {
        await Deno.mkdir(`${dir}/sub`);
        ts.svc.mountVolume(whiteouts, `${dir}/sub`, "w/d", "f");
        assertEquals(mountsUnder(dir), [`${dir}/sub`]);
        assertEquals([...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name), ["y"]);
        assertThrows(() => Deno.writeTextFileSync(`${dir}/sub/z`, "x"));
        await ts.svc.unmountVolumes(dir);
        assertEquals(mountsUnder(dir), []);
      });

      await t.step("a single-layer stack mounts too (overlayfs wants two lowers)", async () => {
        const pause = await ts.svc.pull(env.images.pause.ref);
        assertEquals(pause.chainIds.length, 1);
        await Deno.mkdir(`${dir}/one`);
        ts.svc.mountVolume(pause, `${dir}/one`, "", "f");
        assert(Deno.statSync(`${dir}/one/catatonit`).isFile);
        await ts.svc.unmountVolumes(dir);
      });

      await t.step("missing, not a directory, or leading out: refused naming the field", () => {
        Deno.mkdirSync(`${dir}/bad`);
        for (
          const [img, sub, why] of [
            [whiteouts, "w/nope", "does not exist"],
            [whiteouts, "w/d/x", "does not exist"], // deleted by a whiteout
            [whiteouts, "w/b", "is not a directory"],
            [links, "l/abs", "leads out of the image"], // symlink to /l/file
            [links, "l/dangling", "leads out of the image"], // to /nonexistent
            [links, "../../..", "leads out of the image"],
            [links, "/etc", "leads out of the image"],
          ] as const
        ) {
          const err = assertThrows(
            () => ts.svc.mountVolume(img, `${dir}/bad`, sub, "config.mounts[0].image_sub_path"),
            SauropodError,
            why,
          );
          assertEquals(err.kind, "invalid-argument", sub);
          assert(err.message.startsWith("config.mounts[0].image_sub_path: "), err.message);
          assertEquals(mountsUnder(dir), [], sub);
        }
      });

      await t.step(
        "a relative symlink that stays in the image is followed, and `..` inside it is fine",
        async () => {
          // l/rel -> file: a file, so not a directory; the base layer's dirs via "./" work.
          const err = assertThrows(
            () => ts.svc.mountVolume(links, `${dir}/bad`, "l/rel", "f"),
            SauropodError,
          );
          assert(err.message.includes("is not a directory"), err.message);
          ts.svc.mountVolume(links, `${dir}/bad`, "l/sub/../sub", "f");
          assert(Deno.statSync(`${dir}/bad/hard2`).isFile);
          await ts.svc.unmountVolumes(dir);
          assertEquals(mountsUnder(dir), []);
        },
      );
    } finally {
      await ts.svc.unmountVolumes(dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
