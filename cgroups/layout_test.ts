// test-permissions: --allow-read=cgroups/testdata
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import {
  cgroupDir,
  controllerVersion,
  detectLayout,
  layoutFromMounts,
  mountFor,
  parseMountInfo,
  parseProcCgroup,
  processControllerDir,
} from "./layout.ts";
import { fixture, TESTDATA } from "./_test_fixtures.ts";

Deno.test("detectLayout() sees this machine's hybrid layout: cpu and cpuacct apart, empty unified", async () => {
  const layout = await detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/hybrid.txt`,
    fsRoot: `${TESTDATA}/tree/hybrid`,
  });
  assertEquals(layout.mode, "hybrid");
  assertEquals(layout.unified?.dir, `${TESTDATA}/tree/hybrid/sys/fs/cgroup/unified`);
  assertEquals(layout.unified?.controllers, []);
  assertEquals(layout.v1.get("cpu")?.dir, `${TESTDATA}/tree/hybrid/sys/fs/cgroup/cpu`);
  assertEquals(layout.v1.get("cpuacct")?.dir, `${TESTDATA}/tree/hybrid/sys/fs/cgroup/cpuacct`);
  assertEquals(layout.v1.get("name=systemd")?.controllers, ["name=systemd"]);
  assertEquals(controllerVersion(layout, "memory"), 1);
  assertEquals(controllerVersion(layout, "io"), undefined);
});

Deno.test("detectLayout() sees a systemd node's pure v2 with its controllers", async () => {
  const layout = await detectLayout({
    mountinfo: `${TESTDATA}/mountinfo/v2.txt`,
    fsRoot: `${TESTDATA}/tree/v2`,
  });
  assertEquals(layout.mode, "v2");
  assertEquals(layout.v1.size, 0);
  assertEquals(layout.unified?.controllers, [
    "cpuset",
    "cpu",
    "io",
    "memory",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
  ]);
  assertEquals(controllerVersion(layout, "memory"), 2);
  assertEquals(mountFor(layout, "pids")?.dir, `${TESTDATA}/tree/v2/sys/fs/cgroup`);
});

Deno.test("layoutFromMounts() sees pure v1 with cpu,cpuacct co-mounted and named systemd", () => {
  const layout = layoutFromMounts(parseMountInfo(fixture("mountinfo/v1.txt")), "");
  assertEquals(layout.mode, "v1");
  assertEquals(layout.unified, undefined);
  assertEquals(layout.v1.get("cpu"), layout.v1.get("cpuacct"));
  assertEquals(layout.v1.get("cpu")?.dir, "/sys/fs/cgroup/cpu,cpuacct");
  assertEquals(layout.v1.get("cpu")?.controllers, ["cpu", "cpuacct"]);
  // release_agent= and xattr are options, not controllers.
  assertEquals(layout.v1.get("name=systemd")?.controllers, ["name=systemd"]);
  assertEquals(layout.v1.get("net_prio")?.dir, "/sys/fs/cgroup/net_cls,net_prio");
});

Deno.test("layoutFromMounts() calls a v2 mount beside only named v1 hierarchies v2", () => {
  const layout = layoutFromMounts(
    parseMountInfo(
      "25 24 0:21 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n" +
        "26 24 0:22 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
    ),
    "cpu memory pids",
  );
  assertEquals(layout.mode, "v2");
  assertEquals(controllerVersion(layout, "memory"), 2);
});

Deno.test("layoutFromMounts() fails clearly when no cgroup filesystem is mounted", () => {
  const err = assertThrows(
    () => layoutFromMounts(parseMountInfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"), ""),
    SauropodError,
  );
  assertEquals(err.kind, "failed-precondition");
});

Deno.test("parseMountInfo() unescapes octal and reads optional fields", () => {
  const entries = parseMountInfo(fixture("mountinfo/v1-container.txt"));
  const cpu = entries.find((e) => e.superOptions.includes("cpuacct"));
  assertEquals(cpu?.mountPoint, "/sys/fs/cgroup/cpu and acct");
  assertEquals(cpu?.root, "/docker/5d8e7f");
  assertEquals(cpu?.optional, ["master:9"]);
  assertEquals(entries[0]?.optional, ["master:290"]);
  assertEquals(entries[1]?.optional, []);
});

Deno.test("parseMountInfo() rejects a line without the '-' separator", () => {
  const err = assertThrows(
    () => parseMountInfo("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw\n"),
    SauropodError,
  );
  assertEquals(err.kind, "internal");
});

Deno.test("cgroupDir() maps a cgroup path through a mount of a sub-cgroup", () => {
  const layout = layoutFromMounts(parseMountInfo(fixture("mountinfo/v1-container.txt")), "");
  const memory = layout.v1.get("memory")!;
  assertEquals(cgroupDir(memory, "/docker/5d8e7f"), "/sys/fs/cgroup/memory");
  assertEquals(cgroupDir(memory, "/docker/5d8e7f/child"), "/sys/fs/cgroup/memory/child");
  const err = assertThrows(() => cgroupDir(memory, "/docker/other"), SauropodError);
  assertEquals(err.kind, "failed-precondition");
  assertThrows(() => cgroupDir(memory, "relative"), SauropodError);
});

Deno.test("parseProcCgroup() reads v1, named and v2 lines", () => {
  const entries = parseProcCgroup(
    "12:pids:/kubepods/pod1/abc\n4:cpu,cpuacct:/kubepods/pod1/abc\n1:name=systemd:/\n0::/\n",
  );
  assertEquals(entries[1], {
    hierarchyId: 4,
    controllers: ["cpu", "cpuacct"],
    path: "/kubepods/pod1/abc",
  });
  assertEquals(entries[3], { hierarchyId: 0, controllers: [], path: "/" });
});

Deno.test("parseProcCgroup() keeps colons inside the path", () => {
  assertEquals(parseProcCgroup("0::/a:b\n")[0]?.path, "/a:b");
});

Deno.test("processControllerDir() picks the v1 hierarchy of a controller on a hybrid node", () => {
  const layout = layoutFromMounts(parseMountInfo(fixture("mountinfo/hybrid.txt")), "");
  const proc = parseProcCgroup(
    "9:name=systemd:/\n4:memory:/process_api/4aa0\n2:cpuacct:/x\n1:cpu:/\n0::/\n",
  );
  assertEquals(
    processControllerDir(layout, proc, "memory"),
    "/sys/fs/cgroup/memory/process_api/4aa0",
  );
  assertEquals(processControllerDir(layout, proc, "cpuacct"), "/sys/fs/cgroup/cpuacct/x");
  const err = assertThrows(() => processControllerDir(layout, proc, "io"), SauropodError);
  assertEquals(err.kind, "failed-precondition");
});

Deno.test("processControllerDir() uses the 0:: line on v2", () => {
  const layout = layoutFromMounts(parseMountInfo(fixture("mountinfo/v2.txt")), "memory pids");
  const proc = parseProcCgroup("0::/kubepods.slice/x.scope\n");
  assertEquals(
    processControllerDir(layout, proc, "memory"),
    "/sys/fs/cgroup/kubepods.slice/x.scope",
  );
  const err = assertThrows(
    () => processControllerDir(layout, parseProcCgroup("1:name=systemd:/\n"), "memory"),
    SauropodError,
  );
  assertEquals(err.kind, "not-found");
});
