// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals } from "../testing/assert.ts";
import { which } from "./exec.ts";

Deno.test("which() finds the first executable of that name on the path, like exec", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-which-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.writeTextFile(`${dir}/a/tool`, "not executable", { mode: 0o644 });
    await Deno.writeTextFile(`${dir}/b/tool`, "#!/bin/sh\n", { mode: 0o755 });
    const path = `relative:${dir}/a:${dir}/b`;
    assertEquals(which("tool", path), `${dir}/b/tool`);
    assertEquals(which(`${dir}/b/tool`, path), `${dir}/b/tool`);
    assertEquals(which(`${dir}/a/tool`, path), undefined);
    assertEquals(which("missing", path), undefined);
    assertEquals(which("b/tool", `${dir}`), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
