import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { cgroupDriver, cgroupPathOfRuntimePath, criCgroupDriver, expandSlice } from "./driver.ts";

const UID = "0b7f0c8e_3f7a_4d8e_9a51_6c2d1e4f5a6b";
const ID = "3f9a1c2e4b5d6f708192a3b4c5d6e7f83f9a1c2e4b5d6f708192a3b4c5d6e7f8";
const cgroupfs = cgroupDriver("cgroupfs");
const systemd = cgroupDriver("systemd");

function invalid(fn: () => unknown, field: string): void {
  const err = assertThrows(fn, SauropodError);
  assertEquals(err.kind, "invalid-argument");
  if (!err.message.includes(field)) {
    throw new Error(`message ${JSON.stringify(err.message)} does not name ${field}`);
  }
}

Deno.test("cgroupfs driver: the container cgroup is <parent>/<id>, also runc's cgroupsPath", () => {
  const parent = "/kubepods/burstable/pod0b7f0c8e-3f7a-4d8e-9a51-6c2d1e4f5a6b";
  assertEquals(cgroupfs.podCgroupPath(parent), parent);
  assertEquals(cgroupfs.runtimeCgroupsPath(parent, ID), `${parent}/${ID}`);
  assertEquals(cgroupfs.containerCgroupPath(parent, ID), `${parent}/${ID}`);
  assertEquals(cgroupfs.containerCgroupPath(`${parent}/`, ID), `${parent}/${ID}`);
});

Deno.test("cgroupfs driver: an empty parent means /sauropod", () => {
  assertEquals(cgroupfs.podCgroupPath(""), "/sauropod");
  assertEquals(cgroupfs.runtimeCgroupsPath("", "abc"), "/sauropod/abc");
});

Deno.test("cgroupfs driver rejects relative, dotted and slice parents naming cgroup_parent", () => {
  invalid(() => cgroupfs.podCgroupPath("kubepods/pod1"), "cgroup_parent");
  invalid(() => cgroupfs.podCgroupPath("/kubepods/../etc"), "cgroup_parent");
  invalid(() => cgroupfs.podCgroupPath("/kubepods//pod1"), "cgroup_parent");
  invalid(() => cgroupfs.podCgroupPath("/kubepods/./pod1"), "cgroup_parent");
  invalid(() => cgroupfs.podCgroupPath(`kubepods-burstable-pod${UID}.slice`), "systemd");
});

Deno.test("both drivers reject container ids that are paths or unit separators", () => {
  for (const d of [cgroupfs, systemd]) {
    invalid(() => d.containerCgroupPath("", "../x"), "container id");
    invalid(() => d.containerCgroupPath("", "a/b"), "container id");
    invalid(() => d.runtimeCgroupsPath("", "a:b"), "container id");
    invalid(() => d.runtimeCgroupsPath("", ""), "container id");
  }
});

Deno.test("systemd driver: slice:cri-sauropod:<id> for runc, a scope under the expanded slice", () => {
  const slice = `kubepods-burstable-pod${UID}.slice`;
  const expanded = `/kubepods.slice/kubepods-burstable.slice/${slice}`;
  assertEquals(systemd.runtimeCgroupsPath(slice, ID), `${slice}:cri-sauropod:${ID}`);
  assertEquals(systemd.podCgroupPath(slice), expanded);
  assertEquals(systemd.containerCgroupPath(slice, ID), `${expanded}/cri-sauropod-${ID}.scope`);
});

Deno.test("systemd driver accepts the kubelet's full slice path when it matches the expansion", () => {
  const full = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID}.slice`;
  assertEquals(
    systemd.runtimeCgroupsPath(full, ID),
    `kubepods-besteffort-pod${UID}.slice:cri-sauropod:${ID}`,
  );
  assertEquals(systemd.podCgroupPath(full), full);
  invalid(
    () => systemd.podCgroupPath(`/other.slice/kubepods-besteffort-pod${UID}.slice`),
    "does not match",
  );
});

Deno.test("systemd driver: an empty parent means system.slice", () => {
  assertEquals(systemd.runtimeCgroupsPath("", "abc"), "system.slice:cri-sauropod:abc");
  assertEquals(systemd.containerCgroupPath("", "abc"), "/system.slice/cri-sauropod-abc.scope");
});

Deno.test("systemd driver rejects cgroupfs paths and malformed slices naming cgroup_parent", () => {
  invalid(() => systemd.podCgroupPath("/kubepods/burstable/pod1"), "cgroup driver is systemd");
  invalid(() => systemd.podCgroupPath("kubepods"), "must end in .slice");
  invalid(() => systemd.podCgroupPath("kubepods--a.slice"), "empty component");
  invalid(() => systemd.podCgroupPath("-kubepods.slice"), "empty component");
  invalid(() => systemd.podCgroupPath(".slice"), "must end in .slice");
  invalid(() => systemd.podCgroupPath("a b.slice"), "cgroup_parent");
});

Deno.test("expandSlice() expands like systemd, '-.slice' being the root", () => {
  assertEquals(expandSlice("a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
  assertEquals(expandSlice("system.slice"), "/system.slice");
  assertEquals(expandSlice("-.slice"), "/");
});

Deno.test("cgroupPathOfRuntimePath() recovers the cgroup from either form of cgroupsPath", () => {
  assertEquals(cgroupPathOfRuntimePath("/kubepods/pod1/abc"), "/kubepods/pod1/abc");
  assertEquals(
    cgroupPathOfRuntimePath("kubepods-pod1.slice:cri-sauropod:abc"),
    "/kubepods.slice/kubepods-pod1.slice/cri-sauropod-abc.scope",
  );
  assertEquals(
    cgroupPathOfRuntimePath(":cri-sauropod:abc"),
    "/system.slice/cri-sauropod-abc.scope",
  );
  invalid(() => cgroupPathOfRuntimePath("a:b"), "linux.cgroupsPath");
});

Deno.test("criCgroupDriver() gives RuntimeConfig's enum values", () => {
  assertEquals(criCgroupDriver("systemd"), 0);
  assertEquals(criCgroupDriver("cgroupfs"), 1);
});
