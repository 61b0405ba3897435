// test-permissions: --allow-read=/tmp,deploy/cni --allow-write=/tmp
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import {
  compareVersions,
  ConfDir,
  configCandidates,
  type ConfState,
  effectivePlugins,
  parseNetworkConfig,
} from "./_conf.ts";

const LIST = JSON.stringify({
  cniVersion: "1.0.0",
  name: "pods",
  plugins: [{ type: "bridge", bridge: "b0" }, {
    type: "portmap",
    capabilities: { portMappings: true },
  }],
});

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cniconf-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function ready(state: ConfState) {
  assert(state.kind === "ready", `expected a ready config, got ${JSON.stringify(state)}`);
  return state.list;
}

Deno.test("configCandidates() keeps .conf, .conflist and .json files in byte order", () => {
  assertEquals(
    configCandidates(["99-lo.conf", "10-b.conflist", "10-a.json", "README.md", ".conf", "2.conf"]),
    ["10-a.json", "10-b.conflist", "2.conf", "99-lo.conf"],
  );
});

Deno.test("parseNetworkConfig() reads a conflist", () => {
  const list = parseNetworkConfig(LIST, "/etc/cni/net.d/10-pods.conflist");
  assertEquals(list.name, "pods");
  assertEquals(list.cniVersion, "1.0.0");
  assertEquals(list.plugins.map((p) => p.type), ["bridge", "portmap"]);
  assertEquals(list.disableCheck, false);
  assertEquals(list.source, "/etc/cni/net.d/10-pods.conflist");
});

Deno.test("parseNetworkConfig() wraps a single-plugin .conf into a list", () => {
  const conf = { cniVersion: "0.4.0", name: "old", type: "bridge", ipam: { type: "host-local" } };
  const list = parseNetworkConfig(JSON.stringify(conf), "/x/10-old.conf");
  assertEquals(list.name, "old");
  assertEquals(list.cniVersion, "0.4.0");
  assertEquals(list.plugins, [conf]);
});

Deno.test("parseNetworkConfig() reads a list saved as .conf or .json", () => {
  assertEquals(parseNetworkConfig(LIST, "/x/10.json").plugins.length, 2);
});

Deno.test("parseNetworkConfig() picks the highest supported of cniVersions", () => {
  const text = JSON.stringify({
    cniVersions: ["0.3.1", "1.0.0", "9.0.0"],
    name: "n",
    plugins: [{ type: "bridge" }],
  });
  assertEquals(parseNetworkConfig(text, "/x/a.conflist").cniVersion, "1.0.0");
});

Deno.test("parseNetworkConfig() rejects broken JSON, naming the file", () => {
  const err = assertThrows(
    () => parseNetworkConfig('{"name": "x", ', "/etc/cni/net.d/10-x.conflist"),
    SauropodError,
    "CNI config /etc/cni/net.d/10-x.conflist: not valid JSON",
  );
  assertEquals(err.kind, "failed-precondition");
});

Deno.test("parseNetworkConfig() rejects configs missing what the spec requires", () => {
  const cases: [unknown, string][] = [
    [[], "must be a JSON object"],
    [{ cniVersion: "1.0.0", plugins: [{ type: "b" }] }, '"name" must be a non-empty string'],
    [{ cniVersion: "1.0.0", name: "-x", plugins: [{ type: "b" }] }, "must start with a letter"],
    [{ name: "x", plugins: [{ type: "b" }] }, '"cniVersion" must be a non-empty string'],
    [{ cniVersion: "2.0.0", name: "x", plugins: [{ type: "b" }] }, 'cniVersion "2.0.0" is not'],
    [{ cniVersion: "1.0.0", name: "x", plugins: [] }, '"plugins" is empty'],
    [{ cniVersion: "1.0.0", name: "x", plugins: [{}] }, 'plugins[0] needs a "type"'],
    [{ cniVersion: "1.0.0", name: "x", plugins: [{ type: "../sh" }] }, "a plain file name"],
    [{ cniVersion: "1.0.0", name: "x", plugins: {} }, '"plugins" must be a list'],
  ];
  for (const [raw, msg] of cases) {
    assertThrows(
      () => parseNetworkConfig(JSON.stringify(raw), "/x/a.conflist"),
      SauropodError,
      msg,
    );
  }
  assertThrows(
    () => parseNetworkConfig(JSON.stringify({ cniVersion: "1.0.0", name: "x" }), "/x/a.conflist"),
    SauropodError,
    'a .conflist needs a "plugins" list',
  );
  assertThrows(
    () => parseNetworkConfig(JSON.stringify({ cniVersion: "1.0.0", name: "x" }), "/x/a.conf"),
    SauropodError,
    'the config needs a "type"',
  );
});

Deno.test("effectivePlugins() appends loopback only when the list has none", () => {
  const list = parseNetworkConfig(LIST, "/x/a.conflist");
  assertEquals(effectivePlugins(list).map((p) => p.type), ["bridge", "portmap", "loopback"]);
  const withLo = parseNetworkConfig(
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "n",
      plugins: [{ type: "loopback" }, { type: "bridge" }],
    }),
    "/x/a.conflist",
  );
  assertEquals(effectivePlugins(withLo).map((p) => p.type), ["loopback", "bridge"]);
});

Deno.test("compareVersions() orders semantic versions numerically", () => {
  assert(compareVersions("0.10.0", "0.4.0") > 0);
  assert(compareVersions("0.4.0", "1.0.0") < 0);
  assertEquals(compareVersions("1.0.0", "1.0.0"), 0);
  assert(compareVersions("junk", "0.1.0") < 0);
});

Deno.test("ConfDir.load() reports a missing directory and an empty one", async () => {
  await withDir(async (dir) => {
    const missing = await new ConfDir(`${dir}/nope`).load();
    assertEquals(missing.kind, "missing");
    assert(missing.kind === "missing");
    assertStringIncludes(missing.message, `no network config found in ${dir}/nope`);
    const empty = await new ConfDir(dir).load();
    assertEquals(empty.kind, "missing");
  });
});

Deno.test("ConfDir.load() uses the lexically first config, and a broken first one is an error", async () => {
  await withDir(async (dir) => {
    const confs = new ConfDir(dir);
    await Deno.writeTextFile(`${dir}/20-b.conflist`, LIST.replace('"pods"', '"second"'));
    await Deno.writeTextFile(`${dir}/notes.txt`, "not a config");
    assertEquals(ready(await confs.load()).name, "second");

    await Deno.writeTextFile(`${dir}/10-a.conf`, "{ broken");
    const state = await confs.load();
    assert(state.kind === "invalid", `expected invalid, got ${state.kind}`);
    assertEquals(state.file, `${dir}/10-a.conf`);
    assertStringIncludes(state.message, `${dir}/10-a.conf: not valid JSON`);
  });
});

Deno.test("ConfDir.load() reloads when the file changes, is added or removed", async () => {
  await withDir(async (dir) => {
    const confs = new ConfDir(dir);
    await Deno.writeTextFile(`${dir}/10-a.conflist`, LIST);
    assertEquals(ready(await confs.load()).name, "pods");
    assertEquals(ready(await confs.load()).name, "pods");

    // Same size, different content: the inode of the replacing file gives it away.
    await Deno.writeTextFile(`${dir}/tmp`, LIST.replace('"pods"', '"podz"'));
    await Deno.rename(`${dir}/tmp`, `${dir}/10-a.conflist`);
    assertEquals(ready(await confs.load()).name, "podz");

    await Deno.writeTextFile(`${dir}/05-first.conflist`, LIST.replace('"pods"', '"first"'));
    assertEquals(ready(await confs.load()).name, "first");

    await Deno.remove(`${dir}/05-first.conflist`);
    assertEquals(ready(await confs.load()).name, "podz");

    await Deno.remove(`${dir}/10-a.conflist`);
    assertEquals((await confs.load()).kind, "missing");
  });
});

Deno.test("the shipped deploy/cni/10-sauropod.conflist is a valid bridge network", async () => {
  const url = new URL("../deploy/cni/10-sauropod.conflist", import.meta.url);
  const list = parseNetworkConfig(await Deno.readTextFile(url), url.pathname);
  assertEquals(list.name, "sauropod");
  assertEquals(list.cniVersion, "1.0.0");
  assertEquals(list.plugins.map((p) => p.type), ["bridge", "portmap", "loopback"]);
  const bridge = list.plugins[0]!;
  assertEquals(bridge["bridge"], "sauropod0");
  assertEquals(bridge["ipam"], {
    type: "host-local",
    ranges: [[{ subnet: "10.88.0.0/16" }]],
    routes: [{ dst: "0.0.0.0/0" }],
  });
  assertEquals(list.plugins[1]!["capabilities"], { portMappings: true });
  assertEquals(effectivePlugins(list).length, 3, "no extra loopback appended");
});
