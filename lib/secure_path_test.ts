// test-permissions: --allow-read --allow-write
import { assertEquals } from "../testing/assert.ts";
import { readFileInRoot, resolveInRoot } from "./secure_path.ts";

Deno.test("readFileInRoot() resolves an absolute symlink inside the root, not on the host", async () => {
  const root = await Deno.makeTempDir({ prefix: "sauropod-root-" });
  try {
    await Deno.mkdir(`${root}/etc`);
    await Deno.writeTextFile(`${root}/etc/real-passwd`, "root:x:0:0::/root:/bin/sh\n");
    await Deno.symlink("/etc/real-passwd", `${root}/etc/passwd`);
    assertEquals(await readFileInRoot(root, "/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    await Deno.symlink("../../../../../etc/hostname", `${root}/etc/escape`);
    assertEquals(await resolveInRoot(root, "/etc/escape"), `${root}/etc/hostname`);
    assertEquals(await readFileInRoot(root, "/etc/escape"), undefined);
    await Deno.symlink("loop", `${root}/etc/loop`);
    assertEquals(await readFileInRoot(root, "/etc/loop"), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
