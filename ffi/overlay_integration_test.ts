/** Overlay mounts for real: the mount(2) path and the fsconfig path for deep stacks. */
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { unmount } from "./mount.ts";
import { hasFsopen, mountOverlay, overlayOptionString, pageSize } from "./overlay.ts";

const ignore = Deno.build.os !== "linux" || Deno.uid() !== 0;

async function withLayers(
  count: number,
  fn: (dir: string, lower: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-overlay-test-" });
  try {
    const lower: string[] = [];
    for (let i = 0; i < count; i++) {
      // Long names on purpose: the option string must overflow a page.
      const l = `${dir}/layer-with-a-deliberately-long-directory-name-${
        String(i).padStart(4, "0")
      }`;
      await Deno.mkdir(l);
      await Deno.writeTextFile(`${l}/layer-${i}`, String(i));
      await Deno.writeTextFile(`${l}/top`, String(i));
      lower.unshift(l); // top first
    }
    await Deno.mkdir(`${dir}/upper`);
    await Deno.mkdir(`${dir}/work`);
    await Deno.mkdir(`${dir}/merged`);
    await fn(dir, lower);
  } finally {
    unmount(`${dir}/merged`);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "mountOverlay() stacks a few layers with mount(2)",
  ignore,
  // libc is opened on first use and stays open for the process, by design.
  sanitizeResources: false,
  async fn() {
    await withLayers(3, async (dir, lower) => {
      const how = mountOverlay(`${dir}/merged`, {
        lower,
        upper: `${dir}/upper`,
        work: `${dir}/work`,
        extra: ["index=off"],
      });
      assertEquals(how, "mount");
      assertEquals(await Deno.readTextFile(`${dir}/merged/top`), "2");
      assertEquals(await Deno.readTextFile(`${dir}/merged/layer-0`), "0");
      await Deno.writeTextFile(`${dir}/merged/new`, "x");
      assertEquals(await Deno.readTextFile(`${dir}/upper/new`), "x");
    });
  },
});

Deno.test({
  name: "mountOverlay() takes the fsconfig path when lowerdir does not fit in a page",
  ignore: ignore || !hasFsopen(),
  async fn() {
    await withLayers(120, async (dir, lower) => {
      assert(overlayOptionString({ lower }).length >= pageSize(), "the stack overflows a page");
      const how = mountOverlay(`${dir}/merged`, {
        lower,
        upper: `${dir}/upper`,
        work: `${dir}/work`,
        extra: ["index=off"],
      });
      assertEquals(how, "fsconfig");
      assertEquals(await Deno.readTextFile(`${dir}/merged/top`), "119");
      assertEquals(await Deno.readTextFile(`${dir}/merged/layer-0`), "0");
      assertEquals([...Deno.readDirSync(`${dir}/merged`)].length, 121);
    });
  },
});

Deno.test({
  name: "mountOverlay() mounts read-only stacks and refuses inconsistent options",
  ignore,
  async fn() {
    await withLayers(2, (dir, lower) => {
      mountOverlay(`${dir}/merged`, { lower, readonly: true });
      assertThrows(() => Deno.writeTextFileSync(`${dir}/merged/x`, "x"));
      assertThrows(
        () => mountOverlay(`${dir}/merged`, { lower, upper: `${dir}/upper` }),
        SauropodError,
        "both upper and work",
      );
      assertThrows(() => mountOverlay(`${dir}/merged`, { lower: [] }), SauropodError, "lower");
      assertThrows(
        () => mountOverlay(`${dir}/merged`, { lower: ["/a:b"] }),
        SauropodError,
        "contains",
      );
      return Promise.resolve();
    });
  },
});
