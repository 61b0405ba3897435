// Root tests of pinned pod namespaces: real unshare/nsenter, real nsfs bind mounts.
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { unmount } from "../ffi/mount.ts";
import { isLiveNamespace, pinNamespaces, unpinNamespaces } from "./namespaces.ts";
import { sh, skipReason } from "./_test_env.ts";

const skip = skipReason();
// Load libc for the mount calls now, so the resource sanitizer does not pin it on a test.
if (!skip) unmount("/nonexistent/sauropod-warm-up");
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: skip ? `${name} (skipped: ${skip})` : name, ignore: skip !== undefined, fn });

/** A temp ns root, unmounted (it becomes a shared mount) and removed afterwards. */
async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "sauropod-ns-" });
  const root = `${tmp}/ns`;
  try {
    await fn(root);
  } finally {
    try {
      for await (const e of Deno.readDir(root)) await unpinNamespaces(`${root}/${e.name}`);
    } catch {
      // No root: nothing was pinned.
    }
    for (let i = 0; i < 8 && unmount(root, { detach: true }); i++);
    await Deno.remove(tmp, { recursive: true });
  }
}

async function mountsUnder(path: string, pid: number | "self" = "self"): Promise<string[]> {
  const info = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
  return info.split("\n").map((l) => l.split(" ")[4] ?? "").filter((mp) =>
    mp.startsWith(`${path}/`)
  );
}

const read = async (path: string) => (await Deno.readTextFile(path)).trim();

test("pinNamespaces() sets the hostname and sysctls inside, not on the node", async () => {
  await withRoot(async (root) => {
    const nodeHostname = await read("/proc/sys/kernel/hostname");
    const nodePortStart = await read("/proc/sys/net/ipv4/ip_unprivileged_port_start");
    const nodeShmmni = await read("/proc/sys/kernel/shmmni");
    const ns = await pinNamespaces({
      dir: `${root}/pod1`,
      net: true,
      ipc: true,
      uts: true,
      hostname: "web-0",
      sysctls: { "net.ipv4.ip_unprivileged_port_start": "123", "kernel/shmmni": "1234" },
    });
    assertEquals(ns, { net: `${root}/pod1/net`, ipc: `${root}/pod1/ipc`, uts: `${root}/pod1/uts` });
    assertEquals((await sh("nsenter", `--uts=${ns.uts}`, "--", "hostname")).trim(), "web-0");
    assertEquals(
      (await sh(
        "nsenter",
        `--net=${ns.net}`,
        "--",
        "cat",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start",
      )).trim(),
      "123",
    );
    assertEquals(
      (await sh("nsenter", `--ipc=${ns.ipc}`, "--", "cat", "/proc/sys/kernel/shmmni")).trim(),
      "1234",
    );
    assertEquals(await read("/proc/sys/kernel/hostname"), nodeHostname);
    assertEquals(await read("/proc/sys/net/ipv4/ip_unprivileged_port_start"), nodePortStart);
    assertEquals(await read("/proc/sys/kernel/shmmni"), nodeShmmni);
    assert(await isLiveNamespace(ns.net!));
    assertEquals((await mountsUnder(root)).sort(), [ns.ipc, ns.net, ns.uts].sort());

    await unpinNamespaces(`${root}/pod1`);
    assertEquals(await mountsUnder(root), []);
    assertEquals(await isLiveNamespace(ns.net!), false);
    await unpinNamespaces(`${root}/pod1`); // idempotent
  });
});

test("pinNamespaces() rejects a sysctl the kernel does not know, naming it, and leaves nothing", async () => {
  await withRoot(async (root) => {
    const err = await assertRejects(
      () =>
        pinNamespaces({
          dir: `${root}/pod2`,
          net: true,
          ipc: true,
          uts: true,
          sysctls: { "net.ipv4.tcp_syncookies": "1", "net.ipv4.no_such_knob": "1" },
        }),
      SauropodError,
      'sysctl "net.ipv4.no_such_knob" does not exist',
    );
    assertEquals(err.kind, "invalid-argument");
    assertEquals(await mountsUnder(root), []);
    const left = [];
    for await (const e of Deno.readDir(root)) left.push(e.name);
    assertEquals(left, []);
  });
});

test("pinNamespaces() rejects a value the kernel refuses, naming the sysctl", async () => {
  await withRoot(async (root) => {
    const err = await assertRejects(
      () =>
        pinNamespaces({
          dir: `${root}/pod3`,
          net: true,
          ipc: false,
          uts: false,
          sysctls: { "net.ipv4.ip_unprivileged_port_start": "not-a-number" },
        }),
      SauropodError,
      'sysctl "net.ipv4.ip_unprivileged_port_start" rejected value "not-a-number"',
    );
    assertEquals(err.kind, "invalid-argument");
    assertEquals(await mountsUnder(root), []);
  });
});

test("pinNamespaces() refuses to pin over existing pins and leaves them intact", async () => {
  await withRoot(async (root) => {
    const ns = await pinNamespaces({ dir: `${root}/pod4`, net: true, ipc: false, uts: false });
    const err = await assertRejects(
      () => pinNamespaces({ dir: `${root}/pod4`, net: true, ipc: true, uts: false }),
      SauropodError,
      "already exists",
    );
    assertEquals(err.kind, "already-exists");
    assert(await isLiveNamespace(ns.net!), "the first pin survives");
    assertEquals(await mountsUnder(root), [ns.net]);
  });
});

test("unpinNamespaces() cleans a half-made directory", async () => {
  await withRoot(async (root) => {
    const ns = await pinNamespaces({ dir: `${root}/pod5`, net: true, ipc: true, uts: true });
    // As if an earlier removal stopped halfway: one file unmounted, one gone, a stray file.
    unmount(ns.ipc!, { detach: true });
    unmount(ns.uts!, { detach: true });
    await Deno.remove(ns.uts!);
    await Deno.writeTextFile(`${root}/pod5/net.tmp`, "");
    await unpinNamespaces(`${root}/pod5`);
    assertEquals(await mountsUnder(root), []);
    await assertRejects(() => Deno.stat(`${root}/pod5`), Deno.errors.NotFound);
    await unpinNamespaces(`${root}/never-made`);
  });
});

test("the ns root is a shared mount, so namespaces copied later drop the pin too", async () => {
  await withRoot(async (root) => {
    const ns = await pinNamespaces({ dir: `${root}/pod6`, net: true, ipc: false, uts: false });
    const line = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .find((l) => l.split(" ")[4] === root);
    assert(line, `${root} is a mount point`);
    assertStringIncludes(line, " shared:");

    // A daemon started now with its own mount namespace (systemd's PrivateTmp makes slaves).
    const child = new Deno.Command("unshare", {
      args: ["--mount", "--propagation", "slave", "--", "sleep", "60"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 200 && (await mountsUnder(root, child.pid)).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assertEquals(await mountsUnder(root, child.pid), [ns.net], "the copy holds the pin");
      await unpinNamespaces(`${root}/pod6`);
      assertEquals(await mountsUnder(root, child.pid), [], "the unmount reached the copy");
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  });
});

test("pinNamespaces() with no namespace to own does nothing", async () => {
  await withRoot(async (root) => {
    assertEquals(
      await pinNamespaces({ dir: `${root}/pod7`, net: false, ipc: false, uts: false }),
      {},
    );
    await assertRejects(() => Deno.stat(root), Deno.errors.NotFound);
  });
});
