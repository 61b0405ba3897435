import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { defaultConfig } from "../config/mod.ts";
import { SauropodError } from "../errors/mod.ts";
import { agentGrants, type HostFacts, permissionFlags } from "./permissions.ts";
import { reexecArgv } from "./reexec.ts";

const HOST: HostFacts = {
  deno: "/usr/lib/node_modules/deno/deno",
  which: (name) =>
    ({
      runc: "/usr/sbin/runc",
      crun: "/usr/bin/crun",
      unshare: "/usr/bin/unshare",
      nsenter: "/usr/bin/nsenter",
    })[name],
  listDir: (dir) => dir === "/opt/cni/bin" ? ["bridge", "calico"] : [],
};

Deno.test("the agent writes its directories, the pod log roots and cgroupfs: nothing else", () => {
  const g = agentGrants(defaultConfig(), HOST);
  assertEquals(g.write, [
    "/var/lib/sauropod",
    "/run/sauropod",
    "/run/sauropod/runc",
    "/var/log/pods",
    "/sys/fs/cgroup",
  ]);
});

Deno.test("grants follow the config: moved directories, log roots, runtime, CNI bin dirs", () => {
  const c = defaultConfig();
  c.root = "/data/s";
  c.state = "/run/s";
  c.socket = "/run/crisock/s.sock";
  c.runtime.root = "/run/s/runc";
  c.runtime.podLogRoots = ["/var/log/pods", "/tmp"];
  c.runtime.binary = "crun";
  c.cni.binDirs = ["/opt/cni/bin/"];
  const g = agentGrants(c, HOST);
  assertEquals(g.write, [
    "/data/s",
    "/run/s",
    "/run/crisock",
    "/run/s/runc",
    "/var/log/pods",
    "/tmp",
    "/sys/fs/cgroup",
  ]);
  assert(g.run.includes("/usr/bin/crun") && !g.run.includes("/usr/sbin/runc"));
  // Debian's plugins by name, and a third-party one found in the bin dir at start.
  assert(g.run.includes("/opt/cni/bin/bridge") && g.run.includes("/opt/cni/bin/calico"));
  assert(g.run.includes("/opt/cni/bin/portmap"));
  assert(!g.run.some((p) => p.startsWith("/usr/lib/cni/")));
  assert(g.run.includes(HOST.deno) && g.run.includes("/usr/bin/unshare"));
  assert(!g.run.some((p) => /(^|\/)(sh|bash|env|sudo|mount)$/.test(p)));
});

Deno.test("permissionFlags() renders every kind and never -A", () => {
  const flags = permissionFlags(agentGrants(defaultConfig(), HOST));
  assert(flags.includes(
    "--allow-write=/var/lib/sauropod,/run/sauropod,/run/sauropod/runc," +
      "/var/log/pods,/sys/fs/cgroup",
  ));
  assert(flags.includes("--allow-sys=hostname,uid") && flags.includes("--allow-ffi"));
  assert(flags.some((f) => f.startsWith("--allow-env=PATH,")));
  assert(!flags.some((f) => f === "-A" || f === "--allow-all" || f === "--allow-run"));
});

Deno.test("a directory whose path Deno's flags cannot express is refused, naming the key", () => {
  const c = defaultConfig();
  c.runtime.podLogRoots = ["/var/log/a,b"];
  assertThrows(() => agentGrants(c, HOST), SauropodError, '"runtime.pod_log_roots"');
});

Deno.test("reexecArgv() keeps Deno's flags and the command, replaces the permissions", () => {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const root = main.slice(0, -"/main.ts".length);
  const g = agentGrants(defaultConfig(), HOST);
  const argv = reexecArgv(
    [
      "deno",
      "run",
      "-P=agent",
      "--config=/opt/sauropod/deno.json",
      "--cached-only",
      "--no-prompt",
      "--quiet",
      "main.ts",
      "serve",
      "--config",
      "/etc/sauropod/config.toml",
    ],
    root,
    g,
    "/usr/bin/deno",
  );
  assertEquals(argv, [
    "/usr/bin/deno",
    "run",
    "--config=/opt/sauropod/deno.json",
    "--cached-only",
    "--quiet",
    ...permissionFlags(g),
    "--no-prompt",
    main,
    "serve",
    "--config",
    "/etc/sauropod/config.toml",
    "--permissions-from-config",
  ]);
  assertThrows(() => reexecArgv(["deno", "run", "other.ts"], root, g, "deno"));
});
