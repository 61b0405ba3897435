// test-permissions: --allow-read --allow-write
import { assertEquals } from "../testing/assert.ts";
import { tightenModes } from "./modes.ts";

const ID = "a".repeat(64);

/** The tree an agent before modes.ts left: 0755 directories, 0644 files. */
async function oldTree(dir: string): Promise<{ root: string; state: string }> {
  const root = `${dir}/root`;
  const state = `${dir}/state`;
  const dirs = [
    `${root}/containers/${ID}/rootfs`,
    `${root}/sandboxes/${ID}/bundle/rootfs`,
    `${root}/cni`,
    `${state}/sandboxes/${ID}/shm`,
    `${state}/ns/${ID}`,
    `${state}/shims/${ID}`,
  ];
  for (const d of dirs) await Deno.mkdir(d, { recursive: true });
  const files = [
    `${root}/sauropod.db`,
    `${root}/sauropod.db-wal`,
    `${root}/containers/${ID}/config.json`,
    `${root}/sandboxes/${ID}/hosts`,
    `${root}/sandboxes/${ID}/bundle/config.json`,
    `${root}/cni/${ID}.json`,
    `${state}/ns/${ID}/net`,
    `${state}/shims/${ID}/exit.json`,
    `${state}/shims/${ID}/shim.log`,
  ];
  for (const f of files) await Deno.writeTextFile(f, "{}", { mode: 0o644 });
  for (const d of dirs) {
    for (let p = d; p.length > dir.length; p = p.slice(0, p.lastIndexOf("/"))) {
      await Deno.chmod(p, 0o755);
    }
  }
  for (const f of files) await Deno.chmod(f, 0o644);
  // A pod's shm is a 1777 tmpfs: a chmod would land on the tmpfs, so it must stay as it is.
  await Deno.chmod(`${state}/sandboxes/${ID}/shm`, 0o1777);
  return { root, state };
}

async function mode(path: string): Promise<string> {
  return ((await Deno.lstat(path)).mode! & 0o7777).toString(8);
}

Deno.test("tightenModes() makes an older agent's bundles, pods and records root's only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-modes-" });
  try {
    const { root, state } = await oldTree(dir);
    const changed = await tightenModes({ root, state });
    const want: Record<string, string> = {
      [`${root}/sauropod.db`]: "600",
      [`${root}/sauropod.db-wal`]: "600",
      [`${root}/containers`]: "700",
      [`${root}/containers/${ID}`]: "700",
      [`${root}/containers/${ID}/config.json`]: "600",
      [`${root}/sandboxes`]: "700",
      [`${root}/sandboxes/${ID}`]: "700",
      [`${root}/sandboxes/${ID}/bundle`]: "700",
      [`${root}/sandboxes/${ID}/bundle/config.json`]: "600",
      [`${root}/cni`]: "700",
      [`${root}/cni/${ID}.json`]: "600",
      [`${state}/sandboxes`]: "700",
      [`${state}/sandboxes/${ID}`]: "700",
      [`${state}/ns`]: "700",
      [`${state}/ns/${ID}`]: "700",
      [`${state}/shims`]: "700",
      [`${state}/shims/${ID}`]: "700",
      [`${state}/shims/${ID}/exit.json`]: "600",
      [`${state}/shims/${ID}/shim.log`]: "600",
    };
    const got: Record<string, string> = {};
    for (const p of Object.keys(want)) got[p] = await mode(p);
    assertEquals(got, want);
    assertEquals(changed.sort(), Object.keys(want).sort());
    // Untouched: what containers read, mount points, and root/state themselves.
    assertEquals(await mode(`${root}/sandboxes/${ID}/hosts`), "644");
    assertEquals(await mode(`${state}/sandboxes/${ID}/shm`), "1777");
    assertEquals(await mode(`${state}/ns/${ID}/net`), "644");
    assertEquals(await mode(`${root}/containers/${ID}/rootfs`), "755");
    assertEquals(await mode(root), "755");
    assertEquals(await mode(state), "755");
    // A second start finds nothing to do.
    assertEquals(await tightenModes({ root, state }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tightenModes() never loosens, and leaves a symlink where a directory should be", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-modes-" });
  try {
    const root = `${dir}/root`;
    const state = `${dir}/state`;
    const outside = `${dir}/outside`;
    await Deno.mkdir(`${root}/containers/${ID}`, { recursive: true });
    await Deno.mkdir(outside);
    await Deno.chmod(outside, 0o755);
    await Deno.symlink(outside, `${root}/containers/${"b".repeat(64)}`);
    await Deno.chmod(`${root}/containers`, 0o500);
    await Deno.chmod(`${root}/containers/${ID}`, 0o500);
    await tightenModes({ root, state });
    assertEquals(await mode(`${root}/containers`), "500");
    assertEquals(await mode(`${root}/containers/${ID}`), "500");
    assertEquals(await mode(outside), "755");
    await Deno.chmod(`${root}/containers`, 0o700);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tightenModes() is fine with a fresh node (nothing there yet)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-modes-" });
  try {
    assertEquals(await tightenModes({ root: `${dir}/root`, state: `${dir}/state` }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
