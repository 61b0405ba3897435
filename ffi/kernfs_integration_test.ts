/**
 * ffi/kernfs against the real kernel, checked against what Deno itself reads under -A; and,
 * in a child without --allow-all, the reason the module exists: Deno refuses the same paths
 * there while kernfs serves them.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import * as kernfs from "./kernfs.ts";

// libc stays loaded for the process; load it before the tests so the resource sanitizer
// does not blame the first test.
kernfs.readTextFileSync("/proc/self/status");
kernfs.readDirSync("/proc/self/task");
kernfs.lstatSync("/dev/null");
kernfs.readLinkSync("/proc/self/ns/net");
try {
  kernfs.readTextFileSync("/proc/self/task/0/children");
} catch {
  // errno's helpers are loaded now too
}

Deno.test("kernfs reads /proc files as Deno does", () => {
  for (const p of ["/proc/filesystems", "/proc/self/cgroup", "/proc/1/comm"]) {
    assertEquals(kernfs.readTextFileSync(p), Deno.readTextFileSync(p), p);
  }
  const mine = kernfs.readTextFileSync("/proc/self/status");
  assert(mine.includes(`\nPid:\t${Deno.pid}\n`), mine.slice(0, 200));
  // Longer than one read buffer on a busy node; at least several lines everywhere.
  assert(kernfs.readTextFileSync("/proc/self/mountinfo").split("\n").length > 5);
});

Deno.test("kernfs stats and lists /dev as Deno does", () => {
  const a = kernfs.lstatSync("/dev/null");
  const b = Deno.lstatSync("/dev/null");
  assertEquals(
    [a.isCharDevice, a.mode, a.rdev, a.ino, a.dev, a.uid, a.gid],
    [b.isCharDevice, b.mode, b.rdev, b.ino, b.dev, b.uid, b.gid],
  );
  const names = (xs: Iterable<Deno.DirEntry>) =>
    [...xs].map((e) => `${e.name}:${e.isDirectory}:${e.isSymlink}:${e.isFile}`).sort();
  assertEquals(names(kernfs.readDirSync("/dev")), names(Deno.readDirSync("/dev")));
});

Deno.test("kernfs resolves kernel paths as Deno does", () => {
  for (const p of ["/proc/self", "/dev/stdin", "/sys/fs/cgroup", "/dev/null"]) {
    let want: string;
    try {
      want = Deno.realPathSync(p);
    } catch {
      continue; // not on this machine
    }
    assertEquals(kernfs.realPathSync(p), want, p);
  }
  assertThrows(() => kernfs.realPathSync("/dev/no-such-device"), Deno.errors.NotFound);
});

Deno.test("kernfs reads namespace links and a process's task list", () => {
  assertEquals(kernfs.readLinkSync("/proc/self/ns/net"), Deno.readLinkSync("/proc/self/ns/net"));
  const tasks = kernfs.readDirSync("/proc/self/task").map((e) => e.name);
  assert(tasks.includes(String(Deno.pid)), tasks.join(","));
});

Deno.test("kernfs maps errno to Deno's error classes", async () => {
  assertThrows(() => kernfs.readTextFileSync("/proc/999999999/stat"), Deno.errors.NotFound);
  await assertRejects(() => kernfs.readTextFile("/proc/999999999/cmdline"), Deno.errors.NotFound);
  assertThrows(() => kernfs.statSync("/sys/fs/cgroup/no-such-hierarchy"), Deno.errors.NotFound);
  const gone = assertThrows(() => kernfs.readTextFileSync("/proc/999999999/status"));
  assert(kernfs.isGoneError(gone));
  assert(gone.message.includes("(os error 2)") && gone.message.includes("/proc/999999999/status"));
});

Deno.test("kernfs refuses what sauropod does not use, even with every permission", () => {
  assertThrows(() => kernfs.readTextFileSync("/proc/self/environ"), Deno.errors.NotCapable);
  assertThrows(
    () => kernfs.readTextFileSync("/proc/self/root/etc/hostname"),
    Deno.errors.NotCapable,
  );
  assertThrows(
    () => kernfs.writeTextFileSync("/proc/self/oom_score_adj", "0"),
    Deno.errors.NotCapable,
  );
});

Deno.test({
  name: "kernfs creates, writes and lists a cgroup of its own",
  ignore: Deno.uid() !== 0,
  fn() {
    const hier = ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"].find((d) => {
      try {
        return Deno.statSync(`${d}/cgroup.procs`).isFile;
      } catch {
        return false;
      }
    });
    if (!hier) return;
    const dir = `${hier}/sauropod-kernfs-test-${Deno.pid}`;
    kernfs.mkdirSync(dir);
    try {
      assertThrows(() => kernfs.mkdirSync(dir), Deno.errors.AlreadyExists);
      assert(kernfs.statSync(dir).isDirectory);
      assert(kernfs.readDirSync(dir).some((e) => e.name === "cgroup.procs"));
      assertEquals(kernfs.readTextFileSync(`${dir}/cgroup.procs`), "");
      if (hier.endsWith("/pids")) {
        kernfs.writeTextFileSync(`${dir}/pids.max`, "42");
        assertEquals(kernfs.readTextFileSync(`${dir}/pids.max`), "42\n");
        const bad = assertThrows(() => kernfs.writeTextFileSync(`${dir}/pids.max`, "lots"));
        assert(bad.message.includes("pids.max"), bad.message);
      }
    } finally {
      Deno.removeSync(dir);
    }
  },
});

Deno.test("without --allow-all Deno refuses /proc while kernfs serves it", async () => {
  const probe = `
    import * as kernfs from ${JSON.stringify(new URL("./kernfs.ts", import.meta.url).href)};
    const out = {};
    try { Deno.readTextFileSync("/proc/self/status"); out.deno = "read"; }
    catch (e) { out.deno = e.constructor.name; }
    out.kernfs = kernfs.readTextFileSync("/proc/self/status").includes("Pid:") ? "read" : "?";
    try { kernfs.readTextFileSync("/proc/self/environ"); out.environ = "read"; }
    catch (e) { out.environ = e.constructor.name; }
    console.log(JSON.stringify(out));
  `;
  // `deno eval` would run with every permission; a file under `deno run` does not.
  const dir = await Deno.makeTempDir({ prefix: "sauropod-kernfs-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, probe);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-ffi", "--allow-read", `${dir}/probe.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assertEquals(
      JSON.parse(text || "{}"),
      { deno: "NotCapable", kernfs: "read", environ: "NotCapable" },
      new TextDecoder().decode(out.stderr),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
