import { parse } from "smol-toml";
import { assertEquals } from "../testing/assert.ts";
import { resolveConfig } from "../config/mod.ts";
import { sauropodConfig, sauropodLayout } from "./_sauropod.ts";

const DIR = "/tmp/sauropod-bench-x/sauropod";

function config() {
  const toml = sauropodConfig({
    layout: sauropodLayout(DIR, "/tmp/sb-1/s"),
    sandboxImage: "127.0.0.1:5000/pause:3.10",
    cniBinDir: "/usr/lib/cni",
    runcBinary: "/usr/sbin/runc",
    registryHost: "127.0.0.1:5000",
  });
  return resolveConfig(parse(toml) as Record<string, unknown>, "bench");
}

Deno.test("sauropodConfig() passes the agent's own validation", () => {
  const c = config();
  assertEquals(c.socket, `${DIR}/sauropod.sock`);
  assertEquals(c.root, `${DIR}/root`);
  assertEquals(c.state, "/tmp/sb-1/s");
  assertEquals(c.log.level, "info");
});

Deno.test("sauropodConfig() matches containerd's: runc, cgroupfs, sandbox image, CNI, mirror", () => {
  const c = config();
  assertEquals(c.runtime.binary, "/usr/sbin/runc");
  assertEquals(c.runtime.root, "/tmp/sb-1/s/runc");
  assertEquals(c.runtime.cgroupDriver, "cgroupfs");
  assertEquals(c.sandbox.image, "127.0.0.1:5000/pause:3.10");
  assertEquals(c.cni.confDir, `${DIR}/cni`);
  assertEquals(c.cni.binDirs, ["/usr/lib/cni"]);
  assertEquals(c.image.mirrors, { "docker.io": ["http://127.0.0.1:5000"] });
  assertEquals(c.image.insecureRegistries, ["127.0.0.1:5000"]);
});
