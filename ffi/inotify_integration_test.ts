/**
 * inotify on a real cgroup2 (kernfs) file: the kernel announces `cgroup.events` changes as
 * IN_MODIFY (the same `cgroup_file_notify` path as `memory.events`), which is what the v2
 * OOM watch relies on. Uses this machine's controller-less unified mount.
 */
import { assert } from "../testing/assert.ts";
import { closeFd, createEventfd, readEventfd, waitReadable } from "./eventfd.ts";
import {
  decodeInotifyEvents,
  IN_DELETE_SELF,
  IN_IGNORED,
  IN_MODIFY,
  inotifyAddWatch,
  inotifyInit,
  readInotifyEvents,
} from "./inotify.ts";

const UNIFIED = "/sys/fs/cgroup/unified";
const skip = (() => {
  if (Deno.uid() !== 0) return "needs root";
  try {
    Deno.statSync(`${UNIFIED}/cgroup.procs`);
    return undefined;
  } catch {
    return `no cgroup2 mount at ${UNIFIED}`;
  }
})();

// libc stays loaded for the process; load it before the tests so the resource sanitizer
// does not blame the first test.
{
  const efd = createEventfd();
  readEventfd(efd);
  closeFd(efd);
  closeFd(inotifyInit());
}

/** Waits (bounded, so a broken kernel path fails instead of hanging) for events. */
async function nextEvents(fd: number, wanted: number): Promise<number> {
  let mask = 0;
  for (let i = 0; i < 100 && (mask & wanted) === 0; i++) {
    await waitReadable([fd], 100);
    for (const e of readInotifyEvents(fd)) mask |= e.mask;
  }
  return mask;
}

Deno.test({
  name: skip
    ? `inotify reports IN_MODIFY on a cgroup2 cgroup.events file (skipped: ${skip})`
    : "inotify reports IN_MODIFY on a cgroup2 cgroup.events file",
  ignore: skip !== undefined,
  async fn() {
    const dir = `${UNIFIED}/sauropod-test-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(dir);
    const fd = inotifyInit();
    const child = new Deno.Command("busybox", { args: ["sleep", "600"], stdin: "null" }).spawn();
    let exited = false;
    try {
      inotifyAddWatch(fd, `${dir}/cgroup.events`, IN_MODIFY | IN_DELETE_SELF);
      Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(child.pid));
      assert((await nextEvents(fd, IN_MODIFY)) & IN_MODIFY, "no IN_MODIFY for populated 1");
      child.kill("SIGKILL");
      await child.status;
      exited = true;
      assert((await nextEvents(fd, IN_MODIFY)) & IN_MODIFY, "no IN_MODIFY for populated 0");
      // Unlike tmpfs, kernfs reports no IN_DELETE_SELF/IN_IGNORED when the cgroup is
      // removed while watched (seen on Linux 6.18): watchers learn it from a failed read.
    } finally {
      if (!exited) {
        child.kill("SIGKILL");
        await child.status;
      }
      closeFd(fd);
      try {
        Deno.removeSync(dir);
      } catch {
        // Removed by the test.
      }
    }
  },
});

Deno.test("decodeInotifyEvents() reads packed records with and without names", () => {
  const buf = new Uint8Array(16 + 16 + 8);
  const v = new DataView(buf.buffer);
  v.setInt32(0, 1, true);
  v.setUint32(4, IN_MODIFY, true);
  v.setInt32(16, 2, true);
  v.setUint32(20, IN_IGNORED, true);
  v.setUint32(28, 8, true);
  buf.set(new TextEncoder().encode("abc"), 32);
  const events = decodeInotifyEvents(buf);
  assert(events.length === 2);
  assert(events[0]!.wd === 1 && events[0]!.mask === IN_MODIFY && events[0]!.name === "");
  assert(events[1]!.wd === 2 && events[1]!.mask === IN_IGNORED && events[1]!.name === "abc");
});
