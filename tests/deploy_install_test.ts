/**
 * deploy/install.sh and deploy/uninstall.sh for real, into a temporary root (`--prefix`,
 * `--etc`, `--bindir`), so the node's own /etc and /opt stay untouched: the install ends
 * with a passing `sauropod check`, the installed command and unit work, an operator's
 * files are never replaced, and uninstall removes exactly what install added.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { renderConfig } from "../tools/config_doc.ts";
import { verifySkipReason, verifyUnit } from "../deploy/testing/systemd.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const skip = Deno.uid() === 0 ? undefined : "the installer runs as root";
const verifySkip = await verifySkipReason();

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: skip ? `${name} (skipped: ${skip})` : name, ignore: skip !== undefined, fn });
}

interface Layout {
  top: string;
  prefix: string;
  etc: string;
  bin: string;
}

async function tempRoot(): Promise<Layout> {
  // Short: the installed config's state dir must leave room for the shims' socket paths.
  const top = `/tmp/si-${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(top);
  return { top, prefix: `${top}/opt/sauropod`, etc: `${top}/etc`, bin: `${top}/usr/local/bin` };
}

async function sh(
  cmd: string[],
  opts: { cwd?: string } = {},
): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd: opts.cwd ?? "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

function install(l: Layout): Promise<{ code: number; out: string }> {
  return sh([
    "bash",
    `${ROOT}/deploy/install.sh`,
    "--prefix",
    l.prefix,
    "--etc",
    l.etc,
    "--bindir",
    l.bin,
  ]);
}

function uninstall(l: Layout, ...extra: string[]): Promise<{ code: number; out: string }> {
  // From the installed tree, as an operator would run it.
  return sh([
    "bash",
    `${l.prefix}/deploy/uninstall.sh`,
    "--prefix",
    l.prefix,
    "--etc",
    l.etc,
    ...extra,
  ]);
}

/** Every path under `dir`, relative, sorted. */
async function tree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}${rel}`)) {
    const p = `${rel}/${e.name}`;
    out.push(p);
    if (e.isDirectory) out.push(...await tree(dir, p));
  }
  return out.sort();
}

test("deploy: install.sh into a temp root passes sauropod check; uninstall.sh leaves nothing", async () => {
  const l = await tempRoot();
  try {
    const first = await install(l);
    assertEquals(first.code, 0, first.out);
    assertStringIncludes(first.out, "\nready\n");
    assertStringIncludes(first.out, `sauropod's default is installed: ${l.etc}/cni/net.d/`);

    // Every file in its place; the config is the documented schema, pointed at this CNI dir.
    assertEquals(
      await Deno.readTextFile(`${l.etc}/sauropod/config.toml`),
      renderConfig({ "cni.conf_dir": `${l.etc}/cni/net.d` }),
    );
    assertEquals(
      await Deno.readTextFile(`${l.etc}/cni/net.d/10-sauropod.conflist`),
      await Deno.readTextFile(`${ROOT}/deploy/cni/10-sauropod.conflist`),
    );
    assertEquals(
      await Deno.readTextFile(`${l.etc}/crictl.yaml`),
      await Deno.readTextFile(`${ROOT}/deploy/crictl.yaml`),
    );
    const unit = await Deno.readTextFile(`${l.etc}/systemd/system/sauropod.service`);
    assertStringIncludes(unit, `--config=${l.prefix}/deno.json`);
    assertStringIncludes(unit, `serve --config ${l.etc}/sauropod/config.toml`);
    assert(
      !unit.replaceAll(l.prefix, "<prefix>").includes("/opt/sauropod"),
      "the unit still names the default prefix",
    );
    if (!verifySkip) {
      assertEquals((await verifyUnit(`${l.etc}/systemd/system/sauropod.service`)).complaints, []);
    }

    // The installed command runs the installed agent under its permission set.
    const version = await sh([`${l.bin}/sauropod`, "version", "--json"]);
    assertEquals(JSON.parse(version.out).name, "sauropod", version.out);
    const check = await sh([
      `${l.bin}/sauropod`,
      "check",
      "--json",
      "--config",
      `${l.etc}/sauropod/config.toml`,
    ]);
    assertEquals(check.code, 0, check.out);
    assertEquals(JSON.parse(check.out).ready, true);

    // Again: an upgrade in place, same result.
    const again = await install(l);
    assertEquals(again.code, 0, again.out);
    assertStringIncludes(again.out, `keeping ${l.etc}/sauropod/config.toml`);
    assertStringIncludes(
      again.out,
      `keeping the network configured in ${l.etc}/cni/net.d (10-sauropod.conflist)`,
    );

    const removed = await uninstall(l);
    assertEquals(removed.code, 0, removed.out);
    assertEquals(await tree(l.top), []);
  } finally {
    await Deno.remove(l.top, { recursive: true });
  }
});

test("deploy: an operator's network, crictl.yaml and edited config are never clobbered", async () => {
  const l = await tempRoot();
  try {
    // The operator's own network and crictl config, there before sauropod.
    await Deno.mkdir(`${l.etc}/cni/net.d`, { recursive: true });
    const theirs = '{"cniVersion":"1.0.0","name":"theirs","plugins":[{"type":"loopback"}]}\n';
    await Deno.writeTextFile(`${l.etc}/cni/net.d/05-theirs.conflist`, theirs);
    await Deno.writeTextFile(`${l.etc}/crictl.yaml`, "runtime-endpoint: unix:///x.sock\n");

    const first = await install(l);
    assertEquals(first.code, 0, first.out);
    assertEquals(await tree(`${l.etc}/cni/net.d`), ["/05-theirs.conflist"]);
    assertStringIncludes(first.out, "points crictl at unix:///x.sock, not at this agent");
    assertEquals(
      await Deno.readTextFile(`${l.etc}/crictl.yaml`),
      "runtime-endpoint: unix:///x.sock\n",
    );

    // The operator edits the config: the edit survives a reinstall and a plain uninstall.
    const config = `${l.etc}/sauropod/config.toml`;
    const edited = (await Deno.readTextFile(config)).replace('# level = "info"', 'level = "debug"');
    await Deno.writeTextFile(config, edited);
    assertEquals((await install(l)).code, 0);
    assertEquals(await Deno.readTextFile(config), edited);
    const kept = await uninstall(l);
    assertEquals(kept.code, 0, kept.out);
    assertStringIncludes(kept.out, `keeping ${config}: changed since the install`);
    assertEquals(await tree(l.top), [
      "/etc",
      "/etc/cni",
      "/etc/cni/net.d",
      "/etc/cni/net.d/05-theirs.conflist",
      "/etc/crictl.yaml",
      "/etc/sauropod",
      "/etc/sauropod/config.toml",
    ]);

    // Moving the agent's state elsewhere needs no edit of deno.json or the unit: its
    // permissions come from the config, and the install's preflight passes under them;
    // --purge then removes that state and the config.
    const state = `${l.top}/state`;
    await Deno.mkdir(`${state}/lib`, { recursive: true });
    await Deno.mkdir(`${state}/run`, { recursive: true });
    await Deno.writeTextFile(`${state}/lib/sauropod.db`, "");
    await Deno.writeTextFile(config, `root = "${state}/lib"\nstate = "${state}/run"\n${edited}`);
    const moved = await install(l);
    assertEquals(moved.code, 0, moved.out);
    assertStringIncludes(moved.out, `the agent may write ${state}/lib, ${state}/run`);
    const purged = await uninstall(l, "--purge");
    assertEquals(purged.code, 0, purged.out);
    assertStringIncludes(purged.out, `purged ${state}/lib`);
    assertEquals(await tree(l.top), [
      "/etc",
      "/etc/cni",
      "/etc/cni/net.d",
      "/etc/cni/net.d/05-theirs.conflist",
      "/etc/crictl.yaml",
      "/state",
    ]);
  } finally {
    await Deno.remove(l.top, { recursive: true });
  }
});
