import { assert, assertEquals } from "../testing/assert.ts";
import { checkKernelAccess, fileInfoFromStatx, isKernelPath, type KernelOp } from "./kernfs.ts";

Deno.test("isKernelPath() recognises /proc, /sys and /dev and nothing else", () => {
  for (const p of ["/proc", "/proc/self/status", "/sys/fs/cgroup", "/dev", "/dev/null"]) {
    assert(isKernelPath(p), p);
  }
  for (const p of ["/process", "/system/x", "/devices", "/var/lib/sauropod", "proc/self", ""]) {
    assert(!isKernelPath(p), p);
  }
});

const allowed: Array<[KernelOp, string]> = [
  ["read", "/sys/fs/cgroup/memory/kubepods/pod1/memory.stat"],
  ["read", "/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage"],
  ["read", "/sys/module/overlay/parameters/index"],
  ["read", "/proc/filesystems"],
  ["read", "/proc/self/mountinfo"],
  ["read", "/proc/self/status"],
  ["read", "/proc/self/oom_score_adj"],
  ["read", "/proc/1/comm"],
  ["read", "/proc/1234/cgroup"],
  ["read", "/proc/1234/cmdline"],
  ["read", "/proc/self/task/77/children"],
  ["write", "/sys/fs/cgroup/memory/sauropod/cgroup.event_control"],
  ["write", "/sys/fs/cgroup/unified/kubepods/cgroup.subtree_control"],
  ["mkdir", "/sys/fs/cgroup/pids/kubepods/besteffort/pod1"],
  ["stat", "/proc/1234"],
  ["stat", "/sys/fs/cgroup/memory/kubepods"],
  ["stat", "/dev/null"],
  ["stat", "/proc"],
  ["stat", "/sys/kernel/debug"],
  ["realPath", "/dev/disk/by-id/x"],
  ["realPath", "/sys/fs/cgroup/cpu"],
  ["readDir", "/dev"],
  ["readDir", "/dev/snd"],
  ["readDir", "/proc/self/task"],
  ["readDir", "/sys/fs/cgroup/memory/kubepods"],
  ["readLink", "/proc/thread-self/ns/net"],
  ["readLink", "/proc/1234/ns/pid"],
];

Deno.test("checkKernelAccess() allows the kernel interfaces sauropod uses", () => {
  for (const [op, path] of allowed) checkKernelAccess(op, path);
});

const refused: Array<[KernelOp, string, string]> = [
  ["read", "/proc/self/environ", "the environment (Deno gates it behind --allow-env)"],
  ["read", "/proc/1/environ", "another process's environment"],
  ["read", "/proc/self/root/etc/shadow", "the host's files through a process's root"],
  ["read", "/proc/1234/root/etc/passwd", "a container's files through its init's root"],
  ["read", "/proc/self/cwd/x", "files through the cwd link"],
  ["read", "/proc/self/fd/3", "a descriptor"],
  ["read", "/proc/self/mem", "memory"],
  ["write", "/proc/self/mem", "memory"],
  ["write", "/proc/sys/kernel/hostname", "the node's sysctls"],
  ["write", "/proc/self/oom_score_adj", "its own OOM score"],
  ["read", "/dev/sda", "a disk"],
  ["write", "/dev/null", "devices"],
  ["read", "/sys/kernel/debug/x", "debugfs"],
  ["write", "/sys/module/overlay/parameters/index", "module parameters"],
  ["mkdir", "/proc/x", "procfs"],
  ["read", "/sys/fs/cgroup/../../../etc/shadow", "a dot-dot escape"],
  ["read", "/sys/fs/cgroup/./memory/x", "a dot component"],
  ["read", "/sys/fs/cgroup//memory", "an empty component"],
  ["read", "sys/fs/cgroup/memory", "a relative path"],
  ["readLink", "/proc/self/exe", "the exe link"],
  ["stat", "/proc/../etc/shadow", "a dot-dot escape"],
  ["realPath", "/etc/shadow", "a path outside the kernel's trees"],
];

Deno.test("checkKernelAccess() refuses everything else with NotCapable", () => {
  for (const [op, path, what] of refused) {
    let err: unknown;
    try {
      checkKernelAccess(op, path);
    } catch (e) {
      err = e;
    }
    assert(err instanceof Deno.errors.NotCapable, `${op} ${path} must be refused: ${what}`);
    assert(err.message.includes("not among the kernel interfaces"), err.message);
  }
});

Deno.test("fileInfoFromStatx() decodes struct statx: type, mode, ids, device numbers", () => {
  const buf = new Uint8Array(256);
  const v = new DataView(buf.buffer);
  v.setUint32(4, 4096, true); // blksize
  v.setUint32(16, 1, true); // nlink
  v.setUint32(20, 0, true); // uid
  v.setUint32(24, 5, true); // gid
  v.setUint16(28, 0o020666, true); // char device, rw-rw-rw-
  v.setBigUint64(32, 6n, true); // ino
  v.setBigInt64(112, 1_700_000_000n, true); // mtime seconds
  v.setUint32(120, 500_000_000, true); // mtime nanoseconds
  v.setUint32(128, 1, true); // rdev major
  v.setUint32(132, 3, true); // rdev minor (1:3 is /dev/null)
  v.setUint32(136, 0, true);
  v.setUint32(140, 5, true); // dev 0:5
  const fi = fileInfoFromStatx(buf);
  assertEquals(
    [fi.isCharDevice, fi.isBlockDevice, fi.isFile, fi.isDirectory, fi.isSymlink],
    [true, false, false, false, false],
  );
  assertEquals([fi.mode, fi.uid, fi.gid, fi.ino, fi.nlink, fi.blksize], [
    0o020666,
    0,
    5,
    6,
    1,
    4096,
  ]);
  assertEquals(fi.rdev, (1 << 8) | 3);
  assertEquals(fi.dev, 5);
  assertEquals(fi.mtime?.getTime(), 1_700_000_000_500);
});
