import { parse } from "smol-toml";
import { assert, assertEquals } from "../testing/assert.ts";
import {
  containerdConfig,
  containerdLayout,
  DISABLED_PLUGINS,
  registryHosts,
} from "./_containerd.ts";

type Table = Record<string, unknown>;
const DIR = "/tmp/sauropod-bench-x/containerd";

function config(): Table {
  return plain(parse(containerdConfig({
    layout: containerdLayout(DIR),
    sandboxImage: "127.0.0.1:5000/pause:3.10",
    cniBinDir: "/usr/lib/cni",
    runcBinary: "/usr/sbin/runc",
  }))) as Table;
}

/** smol-toml builds null-prototype tables; compare plain objects. */
function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v));
}

function* strings(v: unknown): Generator<string> {
  if (typeof v === "string") yield v;
  else if (Array.isArray(v)) { for (const x of v) yield* strings(x); }
  else if (v && typeof v === "object") { for (const x of Object.values(v)) yield* strings(x); }
}

Deno.test("containerdConfig() is version 2 TOML with the CRI plugin required", () => {
  const c = config();
  assertEquals(c.version, 2);
  assertEquals(c.required_plugins, ["io.containerd.grpc.v1.cri"]);
  assertEquals(c.disabled_plugins, [...DISABLED_PLUGINS]);
});

Deno.test("containerdConfig() keeps every path it sets under the directory", () => {
  const paths = [...strings(config())].filter((s) => s.startsWith("/"));
  const outside = paths.filter((p) =>
    !p.startsWith(`${DIR}/`) && p !== "/usr/lib/cni" &&
    p !== "/usr/sbin/runc"
  );
  assertEquals(outside, []);
  assert(paths.length >= 10, "expected root, state, sockets, runc roots, CNI and certs paths");
});

Deno.test("containerdConfig() runs runc with cgroupfs, its own root, and the local sandbox image", () => {
  const cri = (config().plugins as Table)["io.containerd.grpc.v1.cri"] as Table;
  assertEquals(cri.sandbox_image, "127.0.0.1:5000/pause:3.10");
  assertEquals(cri.restrict_oom_score_adj, true);
  assertEquals(cri.netns_mounts_under_state_dir, true);
  const runc = ((cri.containerd as Table).runtimes as Table).runc as Table;
  assertEquals(runc.runtime_type, "io.containerd.runc.v2");
  assertEquals(runc.options, {
    BinaryName: "/usr/sbin/runc",
    Root: `${DIR}/state/runc`,
    SystemdCgroup: false,
  });
  assertEquals(cri.cni, { bin_dir: "/usr/lib/cni", conf_dir: `${DIR}/cni`, max_conf_num: 1 });
  assertEquals(cri.registry, { config_path: `${DIR}/certs.d` });
});

Deno.test("registryHosts() serves the local registry over http and mirrors docker.io to it", () => {
  const hosts = registryHosts("127.0.0.1:5000");
  const local = plain(parse(hosts["127.0.0.1:5000/hosts.toml"]!)) as Table;
  assertEquals(local.server, "http://127.0.0.1:5000");
  const hub = plain(parse(hosts["docker.io/hosts.toml"]!)) as Table;
  assertEquals(hub.server, "https://registry-1.docker.io");
  assertEquals((hub.host as Table)["http://127.0.0.1:5000"], { capabilities: ["pull", "resolve"] });
});
