/**
 * watchOom() for real: a process OOM-killed in a v1 memory cgroup of this machine, and the
 * v2 logic over real inotify on a tmpfs tree shaped like cgroup2 (this machine's unified
 * mount has no memory controller; the node-vm tier covers a real v2 kernel).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { closeFd, createEventfd, readEventfd } from "../ffi/eventfd.ts";
import { inotifyInit } from "../ffi/inotify.ts";
import { CgroupOomWatcher, watchOom } from "./oom.ts";
import { createTestCgroups, named, skipV1Reason } from "./_test_util.ts";

// libc is opened once per process, lazily; open it before the tests so the resource
// sanitizer does not blame the first test for a library that stays loaded by design.
{
  const efd = createEventfd();
  readEventfd(efd); // EAGAIN: loads the errno helpers too
  closeFd(efd);
  closeFd(inotifyInit());
}

const skipV1 = skipV1Reason(["memory"]);

/** Resolves with the count on the first kill, or undefined after `ms` (no hang on failure). */
function firstKill(w: CgroupOomWatcher, ms: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    w.onKill((n) => {
      clearTimeout(timer);
      resolve(n);
    });
  });
}

Deno.test({
  name: named(
    "watchOom() counts exactly one OOM kill in a v1 memory cgroup and keeps it after rmdir",
    skipV1,
  ),
  ignore: skipV1 !== undefined,
  async fn() {
    const cg = await createTestCgroups(["memory"]);
    const dir = cg.dirs.memory;
    let child: Deno.ChildProcess | undefined;
    let watcher: CgroupOomWatcher | undefined;
    try {
      Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, String(32 << 20));
      // One process (so the kernel has one victim) that waits for a line on stdin, so it
      // joins the cgroup before it builds a 64 MiB string, twice the limit.
      child = new Deno.Command("busybox", {
        args: [
          "sh",
          "-c",
          'read go; exec busybox awk \'BEGIN { s = sprintf("%67108864s", ""); print "survived" }\'',
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(child.pid));
      const w = await watchOom(child.pid);
      assert(w instanceof CgroupOomWatcher);
      watcher = w;
      assertEquals(w.version, 1);
      assertEquals(w.dir, dir);
      assertEquals(w.kills, 0);
      const killed = firstKill(w, 30_000);

      const stdin = child.stdin.getWriter();
      await stdin.write(new TextEncoder().encode("go\n"));
      await stdin.close();
      const out = await child.output();
      child = undefined;
      assertEquals(new TextDecoder().decode(out.stdout), "", "the allocating process survived");
      assertEquals(await killed, 1, "the eventfd watch reported the kill");
      assertEquals(await w.refresh(), 1);

      Deno.removeSync(dir);
      assertEquals(await w.refresh(), 1, "the count survives the cgroup's removal");
      assertEquals(w.kills, 1);
    } finally {
      if (child) {
        child.kill("SIGKILL");
        await child.status;
        await child.stdin.close().catch(() => {});
        await child.stdout.cancel();
      }
      watcher?.close();
      await watcher?.closed;
      await cg.remove();
    }
  },
});

Deno.test({
  name: named("watchOom() notices a v1 cgroup's removal and stops watching", skipV1),
  ignore: skipV1 !== undefined,
  async fn() {
    const cg = await createTestCgroups(["memory"]);
    const dir = cg.dirs.memory;
    const child = new Deno.Command("busybox", { args: ["sleep", "600"], stdin: "null" }).spawn();
    let watcher: CgroupOomWatcher | undefined;
    let status: Deno.CommandStatus | undefined;
    try {
      Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(child.pid));
      watcher = await watchOom(child.pid) as CgroupOomWatcher;
      child.kill("SIGKILL");
      status = await child.status;
      Deno.removeSync(dir);
      // The kernel signals the eventfd on removal; the watch then ends by itself.
      await watcher.closed;
      assertEquals(watcher.kills, 0);
      assertEquals(await watcher.refresh(), 0);
    } finally {
      if (!status) {
        child.kill("SIGKILL");
        await child.status;
      }
      watcher?.close();
      await watcher?.closed;
      await cg.remove();
    }
  },
});

/**
 * A tmpfs tree shaped like a cgroup2 mount and a fake /proc: the process in
 * `<root>/cg/pod/ctr`, or under `<root>/cg/pod/` at `inPod` (e.g. `scope/container`).
 */
function fakeV2Tree(inPod = "ctr"): { root: string; pid: number; ctr: string; pod: string } {
  const root = Deno.makeTempDirSync({ prefix: "sauropod-oom-v2-" });
  const pid = 4242;
  const pod = `${root}/cg/pod`;
  const ctr = `${pod}/${inPod}`;
  Deno.mkdirSync(ctr, { recursive: true });
  Deno.mkdirSync(`${root}/proc/${pid}`, { recursive: true });
  Deno.writeTextFileSync(`${root}/cg/cgroup.controllers`, "cpuset cpu io memory pids\n");
  const events = (kills: number) =>
    `low 0\nhigh 0\nmax 3\noom 1\noom_kill ${kills}\noom_group_kill 0\n`;
  Deno.writeTextFileSync(`${pod}/memory.events`, events(2));
  for (let d = ctr; d !== pod; d = d.slice(0, d.lastIndexOf("/"))) {
    Deno.writeTextFileSync(`${d}/memory.events`, events(0));
  }
  Deno.writeTextFileSync(`${root}/proc/${pid}/cgroup`, `0::/pod/${inPod}\n`);
  Deno.writeTextFileSync(
    `${root}/mountinfo`,
    `25 20 0:23 / ${root}/cg rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n`,
  );
  return { root, pid, ctr, pod };
}

const v2Events = (kills: number, oom = kills) =>
  `low 0\nhigh 0\nmax 7\noom ${oom}\noom_kill ${kills}\noom_group_kill 0\n`;

Deno.test("watchOom() on v2 counts oom_kill growth of memory.events through inotify", async () => {
  const t = fakeV2Tree();
  let w: CgroupOomWatcher | undefined;
  try {
    w = await watchOom(t.pid, {
      procRoot: `${t.root}/proc`,
      mountinfo: `${t.root}/mountinfo`,
    }) as CgroupOomWatcher;
    assertEquals(w.version, 2);
    assertEquals(w.dir, t.ctr);
    const killed = firstKill(w, 10_000);
    // `oom` moves without a kill first: not a kill.
    Deno.writeTextFileSync(`${t.ctr}/memory.events`, v2Events(0, 1));
    Deno.writeTextFileSync(`${t.ctr}/memory.events`, v2Events(2, 1));
    assertEquals(await killed, 2);
    assertEquals(await w.refresh(), 2);
  } finally {
    w?.close();
    await w?.closed;
    Deno.removeSync(t.root, { recursive: true });
  }
});

Deno.test("watchOom() on v2 survives garbage in memory.events and counts the next kill", async () => {
  const t = fakeV2Tree();
  let w: CgroupOomWatcher | undefined;
  try {
    w = await watchOom(t.pid, {
      procRoot: `${t.root}/proc`,
      mountinfo: `${t.root}/mountinfo`,
    }) as CgroupOomWatcher;
    Deno.writeTextFileSync(`${t.ctr}/memory.events`, "oom_kill lots\n");
    assertEquals(await w.refresh(), 0);
    const killed = firstKill(w, 10_000);
    Deno.writeTextFileSync(`${t.ctr}/memory.events`, v2Events(1));
    assertEquals(await killed, 1);
  } finally {
    w?.close();
    await w?.closed;
    Deno.removeSync(t.root, { recursive: true });
  }
});

Deno.test("watchOom() on v2 recovers a kill from the parent when the cgroup vanished unread", async () => {
  const t = fakeV2Tree();
  let w: CgroupOomWatcher | undefined;
  try {
    w = await watchOom(t.pid, {
      procRoot: `${t.root}/proc`,
      mountinfo: `${t.root}/mountinfo`,
    }) as CgroupOomWatcher;
    // All before the watcher gets a turn: the kill is announced, then systemd-like GC
    // removes the cgroup before anyone reads it. The parent's counter is hierarchical.
    Deno.writeTextFileSync(`${t.ctr}/memory.events`, v2Events(1));
    Deno.writeTextFileSync(`${t.pod}/memory.events`, v2Events(3));
    Deno.removeSync(t.ctr, { recursive: true });
    // The shim's last look after the exit (kernfs, unlike tmpfs, does not report the
    // removal to inotify, so this is the path a real v2 node takes).
    assertEquals(await w.refresh(), 1);
    assertEquals(w.kills, 1);
    await w.closed; // the watch ends by itself once the cgroup is gone
  } finally {
    w?.close();
    await w?.closed;
    Deno.removeSync(t.root, { recursive: true });
  }
});

Deno.test("watchOom() on v2 recovers a kill from the pod when crun's scope vanished with its sub-cgroup", async () => {
  // crun under the systemd driver: the process is in <scope>/container, and systemd
  // collects the whole scope once it is empty, so the parent is gone too.
  const t = fakeV2Tree("cri-sauropod-x.scope/container");
  const scope = `${t.pod}/cri-sauropod-x.scope`;
  let w: CgroupOomWatcher | undefined;
  try {
    w = await watchOom(t.pid, {
      procRoot: `${t.root}/proc`,
      mountinfo: `${t.root}/mountinfo`,
    }) as CgroupOomWatcher;
    assertEquals(w.dir, t.ctr);
    Deno.writeTextFileSync(`${t.ctr}/memory.events`, v2Events(1));
    Deno.writeTextFileSync(`${scope}/memory.events`, v2Events(1));
    Deno.writeTextFileSync(`${t.pod}/memory.events`, v2Events(3));
    Deno.removeSync(scope, { recursive: true });
    assertEquals(await w.refresh(), 1);
    await w.closed;
  } finally {
    w?.close();
    await w?.closed;
    Deno.removeSync(t.root, { recursive: true });
  }
});

Deno.test("watchOom() on v2 does not take a sibling's kill for its own when its cgroup vanishes", async () => {
  const t = fakeV2Tree();
  let w: CgroupOomWatcher | undefined;
  try {
    w = await watchOom(t.pid, {
      procRoot: `${t.root}/proc`,
      mountinfo: `${t.root}/mountinfo`,
    }) as CgroupOomWatcher;
    // A sibling in the pod is OOM-killed; this container later exits and is collected
    // without anything unread in its own memory.events.
    Deno.writeTextFileSync(`${t.pod}/memory.events`, v2Events(3));
    Deno.removeSync(t.ctr, { recursive: true });
    assertEquals(await w.refresh(), 0);
  } finally {
    w?.close();
    await w?.closed;
    Deno.removeSync(t.root, { recursive: true });
  }
});

Deno.test("watchOom() rejects a process that does not exist with not-found", async () => {
  const t = fakeV2Tree();
  try {
    let caught: unknown;
    try {
      await watchOom(99999, { procRoot: `${t.root}/proc`, mountinfo: `${t.root}/mountinfo` });
    } catch (err) {
      caught = err;
    }
    assert(caught instanceof Error);
    assert(/process 99999/.test(caught.message), caught.message);
    assertEquals((caught as { kind?: string }).kind, "not-found");
  } finally {
    Deno.removeSync(t.root, { recursive: true });
  }
});
