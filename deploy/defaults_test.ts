// test-permissions: --allow-read=/tmp,deploy --allow-write=/tmp
/**
 * The rules `deploy/install.sh` and `./run start` share: the default network only into a conf
 * dir without a network, crictl's config only where there is none, on directories the test
 * owns.
 */
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import {
  crictlConfig,
  DEFAULT_NETWORK_FILE,
  defaultNetwork,
  forServe,
  networkConfigs,
  serveTarget,
} from "./defaults.ts";

const TEMPLATE = await Deno.readTextFile(new URL("./cni/10-sauropod.conflist", import.meta.url));
const CRICTL = await Deno.readTextFile(new URL("./crictl.yaml", import.meta.url));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-defaults-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

Deno.test("defaultNetwork() installs the default network into a conf dir that does not exist", () =>
  withDir(async (dir) => {
    const confDir = `${dir}/etc/cni/net.d`;
    const o = await defaultNetwork(confDir);
    assertEquals(o.wrote, true);
    assertEquals(o.path, `${confDir}/${DEFAULT_NETWORK_FILE}`);
    assertEquals(await Deno.readTextFile(o.path), TEMPLATE);
    assertEquals((await Deno.stat(o.path)).mode! & 0o777, 0o644);
    assertEquals(await names(confDir), [DEFAULT_NETWORK_FILE]);
    assert(o.message.includes("sauropod's default is installed"), o.message);
  }));

Deno.test("defaultNetwork() installs into an empty conf dir, and into one holding only non-configs", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/a`);
    assertEquals((await defaultNetwork(`${dir}/a/`)).path, `${dir}/a/${DEFAULT_NETWORK_FILE}`);
    // What libcni would not load: other extensions, a bare ".conf", a directory named *.conf.
    await Deno.mkdir(`${dir}/b/old.conf`, { recursive: true });
    await Deno.writeTextFile(`${dir}/b/README`, "");
    await Deno.writeTextFile(`${dir}/b/.conf`, "");
    await Deno.writeTextFile(`${dir}/b/net.conf.bak`, "");
    assertEquals(await networkConfigs(`${dir}/b`), []);
    assertEquals((await defaultNetwork(`${dir}/b`)).wrote, true);
  }));

Deno.test("defaultNetwork() never touches a conf dir that holds a network, whatever its kind", async () => {
  for (
    const file of ["05-theirs.conflist", "87-podman.conf", "calico.json", "99-sauropod.conflist"]
  ) {
    await withDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/${file}`, "not even valid: the agent will say so");
      const o = await defaultNetwork(dir);
      assertEquals(o.wrote, false, file);
      assertEquals(o.path, `${dir}/${file}`);
      assertEquals(await names(dir), [file]);
      assert(o.message.includes(`keeping the network configured in ${dir} (${file})`), o.message);
    });
  }
});

Deno.test("defaultNetwork() keeps an earlier default in place, edited or not", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/${DEFAULT_NETWORK_FILE}`, "edited by the operator");
    assertEquals((await defaultNetwork(dir)).wrote, false);
    assertEquals(
      await Deno.readTextFile(`${dir}/${DEFAULT_NETWORK_FILE}`),
      "edited by the operator",
    );
  }));

Deno.test("crictlConfig() writes deploy/crictl.yaml where there is none, naming the agent's socket", () =>
  withDir(async (dir) => {
    const o = await crictlConfig(`${dir}/crictl.yaml`);
    assertEquals(o, {
      wrote: true,
      path: `${dir}/crictl.yaml`,
      message: `crictl: wrote ${dir}/crictl.yaml (unix:///run/sauropod/sauropod.sock)`,
    });
    assertEquals(await Deno.readTextFile(o.path), CRICTL);
    const other = await crictlConfig(`${dir}/other.yaml`, "/srv/s.sock");
    const text = await Deno.readTextFile(other.path);
    assert(text.includes("runtime-endpoint: unix:///srv/s.sock\n"), text);
    assert(text.includes("image-endpoint: unix:///srv/s.sock\n"), text);
    assertEquals(await names(dir), ["crictl.yaml", "other.yaml"]);
  }));

Deno.test("crictlConfig() keeps an existing file and says when it points elsewhere", () =>
  withDir(async (dir) => {
    const path = `${dir}/crictl.yaml`;
    await Deno.writeTextFile(path, "runtime-endpoint: unix:///run/containerd/containerd.sock\n");
    const o = await crictlConfig(path);
    assertEquals(o.wrote, false);
    assert(
      o.message.includes("points crictl at unix:///run/containerd/containerd.sock"),
      o.message,
    );
    assertEquals(
      await Deno.readTextFile(path),
      "runtime-endpoint: unix:///run/containerd/containerd.sock\n",
    );
    await Deno.writeTextFile(path, CRICTL);
    assertEquals(
      (await crictlConfig(path)).message,
      `crictl: keeping ${path} (unix:///run/sauropod/sauropod.sock)`,
    );
  }));

Deno.test("serveTarget() reads --config and --socket as `sauropod serve` takes them", () => {
  assertEquals(serveTarget([]), { configPath: "/etc/sauropod/config.toml", explicit: false });
  assertEquals(serveTarget(["--log-level", "debug", "-c", "/x.toml"]), {
    configPath: "/x.toml",
    explicit: true,
  });
  assertEquals(serveTarget(["--config=/y.toml", "--socket", "/s.sock"]), {
    configPath: "/y.toml",
    explicit: true,
    socket: "/s.sock",
  });
  assertEquals(serveTarget(["--socket=/t.sock"]).socket, "/t.sock");
});

Deno.test("forServe() puts both where the config file and flags of serve say", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `socket = "${dir}/from-file.sock"\n[cni]\nconf_dir = "${dir}/net.d"\n`,
    );
    const [net, crictl] = await forServe(["--config", `${dir}/config.toml`], `${dir}/crictl.yaml`);
    assertEquals(net!.path, `${dir}/net.d/${DEFAULT_NETWORK_FILE}`);
    assert(net!.wrote && crictl!.wrote);
    assert(
      (await Deno.readTextFile(`${dir}/crictl.yaml`)).includes(`unix://${dir}/from-file.sock`),
    );
    // A second start changes nothing; --socket wins over the file, as it does for serve.
    await Deno.remove(`${dir}/crictl.yaml`);
    const again = await forServe(
      ["-c", `${dir}/config.toml`, "--socket", `${dir}/flag.sock`],
      `${dir}/crictl.yaml`,
    );
    assertEquals(again.map((o) => o.wrote), [false, true]);
    assert((await Deno.readTextFile(`${dir}/crictl.yaml`)).includes(`unix://${dir}/flag.sock`));
    await assertRejects(() => forServe(["--config", `${dir}/missing.toml`], `${dir}/c.yaml`));
  }));
