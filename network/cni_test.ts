// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { CniManager } from "./cni.ts";

const LIST = {
  cniVersion: "1.0.0",
  name: "pods",
  plugins: [
    { type: "bridge", ipam: { type: "host-local" } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

async function withManager(fn: (m: CniManager, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cni-" });
  try {
    await Deno.mkdir(`${dir}/bin`);
    const m = new CniManager({
      config: { confDir: `${dir}/net.d`, binDirs: [`${dir}/bin`], pluginTimeoutSeconds: 5 },
      cacheDir: `${dir}/cache`,
      logger: nullLogger,
    });
    await fn(m, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function install(dir: string, ...plugins: string[]): Promise<void> {
  for (const p of plugins) {
    await Deno.writeTextFile(`${dir}/bin/${p}`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  }
}

Deno.test("CniManager.status() is not ready while no config exists, naming the conf dir", async () => {
  await withManager(async (m, dir) => {
    const s = await m.status();
    assertEquals(s.ready, false);
    assertEquals(s.reason, "NetworkPluginNotReady");
    assertStringIncludes(s.message!, `no network config found in ${dir}/net.d`);
  });
});

Deno.test("CniManager.status() reports a broken config, naming the file", async () => {
  await withManager(async (m, dir) => {
    await Deno.mkdir(`${dir}/net.d`);
    await Deno.writeTextFile(`${dir}/net.d/10-pods.conflist`, "{");
    const s = await m.status();
    assertEquals(s.ready, false);
    assertStringIncludes(s.message!, `${dir}/net.d/10-pods.conflist: not valid JSON`);
  });
});

Deno.test("CniManager.status() names plugins missing from the bin dirs", async () => {
  await withManager(async (m, dir) => {
    await Deno.mkdir(`${dir}/net.d`);
    await Deno.writeTextFile(`${dir}/net.d/10-pods.conflist`, JSON.stringify(LIST));
    await install(dir, "bridge");
    let s = await m.status();
    assertEquals(s.ready, false);
    assertStringIncludes(s.message!, 'CNI plugins "host-local", "portmap", "loopback"');
    assertStringIncludes(s.message!, `not found in ${dir}/bin`);
    await install(dir, "host-local", "portmap", "loopback");
    s = await m.status();
    assertEquals(s, { ready: true });
  });
});

Deno.test("CniManager.setUp() fails before touching anything when the netns is missing", async () => {
  await withManager(async (m, dir) => {
    await Deno.mkdir(`${dir}/net.d`);
    await Deno.writeTextFile(`${dir}/net.d/10-pods.conflist`, JSON.stringify(LIST));
    await install(dir, "bridge", "host-local", "portmap", "loopback");
    const err = await assertRejects(
      () =>
        m.setUp({
          podId: "p1",
          name: "web",
          namespace: "default",
          uid: "u1",
          netnsPath: `${dir}/no-such-netns`,
          portMappings: [],
        }),
      SauropodError,
      `${dir}/no-such-netns is not a network namespace`,
    );
    assertEquals(err.kind, "failed-precondition");
    assertEquals(await m.attachedPods(), []);
  });
});

Deno.test("CniManager.setUp() fails before touching anything when no config exists", async () => {
  await withManager(async (m, dir) => {
    const err = await assertRejects(
      () =>
        m.setUp({
          podId: "p1",
          name: "web",
          namespace: "default",
          uid: "u1",
          netnsPath: "/run/sauropod/ns/p1/net",
          portMappings: [],
        }),
      SauropodError,
      "cni config not loaded",
    );
    assertEquals(err.kind, "failed-precondition");
    assertEquals(await m.attachedPods(), []);
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assertEquals(entries, ["bin"], "no cache written");
  });
});

Deno.test("CniManager.tearDown() of a pod that was never attached succeeds", async () => {
  await withManager(async (m) => {
    await m.tearDown({ podId: "p1" });
    await m.tearDown({ podId: "p1", netnsPath: "/gone/net" });
  });
});

Deno.test("CniManager.updatePodCidr() accepts single and dual-stack CIDRs", async () => {
  await withManager((m) => {
    m.updatePodCidr("10.244.1.0/24");
    assertEquals(m.podCidrs, ["10.244.1.0/24"]);
    m.updatePodCidr("10.244.1.0/24, fd00:244:1::/64");
    assertEquals(m.podCidrs, ["10.244.1.0/24", "fd00:244:1::/64"]);
    m.updatePodCidr("");
    assertEquals(m.podCidrs, []);
    let err: unknown;
    try {
      m.updatePodCidr("10.244.1.0");
    } catch (e) {
      err = e;
    }
    assert(err instanceof SauropodError && err.kind === "invalid-argument");
    assertStringIncludes(err.message, 'pod CIDR "10.244.1.0" is not a CIDR');
    return Promise.resolve();
  });
});

Deno.test("CniManager keeps the pod CIDR in its file and a new one restores it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cidr-" });
  try {
    const file = `${dir}/pod-cidr`;
    const open = () =>
      new CniManager({
        config: { confDir: `${dir}/net.d`, binDirs: [], pluginTimeoutSeconds: 5 },
        cacheDir: `${dir}/cni`,
        podCidrFile: file,
        logger: nullLogger,
      });
    await open().restorePodCidr(); // no file yet: nothing, no error
    const a = open();
    a.updatePodCidr("10.244.1.0/24, fd00:244:1::/64");
    assertEquals((await Deno.stat(file)).mode! & 0o777, 0o600);
    const b = open();
    assertEquals(b.podCidrs, []);
    await b.restorePodCidr();
    assertEquals(b.podCidrs, ["10.244.1.0/24", "fd00:244:1::/64"]);
    // A refused CIDR changes neither the manager nor the file.
    let refused = false;
    try {
      b.updatePodCidr("10.244.2.0/24,nope");
    } catch {
      refused = true;
    }
    assert(refused);
    assertEquals(b.podCidrs, ["10.244.1.0/24", "fd00:244:1::/64"]);
    assertEquals(await Deno.readTextFile(file), "10.244.1.0/24,fd00:244:1::/64\n");
    // A damaged file is ignored, not fatal.
    await Deno.writeTextFile(file, "garbage\n");
    const c = open();
    await c.restorePodCidr();
    assertEquals(c.podCidrs, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
