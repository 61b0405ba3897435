import { assertEquals } from "../testing/assert.ts";
import { defaultConfig } from "../config/mod.ts";
import { planReload } from "./reload.ts";

Deno.test("planReload() applies registry keys and the log level; names every other change", () => {
  const a = defaultConfig();
  const b = defaultConfig();
  b.image.mirrors = { "docker.io": ["http://127.0.0.1:5000"] };
  b.image.insecureRegistries = ["r:5000"];
  b.log.level = "debug";
  b.cni.pluginTimeoutSeconds = 5;
  b.root = "/srv/sauropod";
  assertEquals(planReload(a, b), {
    apply: ["log.level", "image.insecure_registries", "image.mirrors"],
    restart: ["root", "cni.plugin_timeout_seconds"],
  });
  assertEquals(planReload(a, defaultConfig()), { apply: [], restart: [] });
});
