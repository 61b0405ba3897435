import { assertThrows } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { checkLogDirectory } from "./log_directory.ts";

Deno.test("checkLogDirectory(): beneath a root, plain, no symlink on the way", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-logroot-" });
  try {
    const root = `${dir}/pods`;
    await Deno.mkdir(`${root}/ns_pod_uid`, { recursive: true });
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.symlink(`${dir}/elsewhere`, `${root}/link`);
    const f = "config.log_directory";
    checkLogDirectory(`${root}/ns_pod_uid`, [root], f); // exists
    checkLogDirectory(`${root}/not-yet/deeper`, [root], f); // made later, beneath the root
    checkLogDirectory(`${root}/ns_pod_uid/`, ["/nonexistent", root], f);
    const refused = (path: string, msg: string) =>
      assertThrows(() => checkLogDirectory(path, [root], f), SauropodError, msg);
    refused(`${dir}/elsewhere`, "runtime.pod_log_roots");
    refused(`${root}x/pod`, "is outside the directories pods may log under");
    refused(`${root}/a/../../elsewhere`, "without empty, . or .. components");
    refused(`${root}/link`, "goes through a symlink");
    refused(`${root}/link/pod`, "goes through a symlink");
    refused("relative/pods", "must be an absolute path");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
