// test-permissions: --allow-read=cgroups/testdata
import { assertEquals, assertStringIncludes, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { readOomKillCount } from "./oom.ts";
import { BROKEN, CGROUPFS_PARENT, CTR, POD_UID, TESTDATA } from "./_test_fixtures.ts";

const V1 = `${TESTDATA}/tree/v1/sys/fs/cgroup/memory${CGROUPFS_PARENT}/${CTR}`;
const V2 = `${TESTDATA}/tree/v2/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/` +
  `kubepods-burstable-pod${POD_UID.replaceAll("-", "_")}.slice/cri-sauropod-${CTR}.scope`;

Deno.test("readOomKillCount() reads oom_kill from v1 memory.oom_control and v2 memory.events", () => {
  assertEquals(readOomKillCount(1, V1), 0n);
  assertEquals(readOomKillCount(2, V2), 0n);
});

Deno.test("readOomKillCount() is undefined for a vanished cgroup", () => {
  assertEquals(readOomKillCount(2, `${V2}-gone`), undefined);
});

Deno.test("readOomKillCount() is undefined on a kernel without the counter (before 4.13)", () => {
  assertEquals(readOomKillCount(1, V1.replace(CTR, BROKEN)), undefined);
});

Deno.test("readOomKillCount() on garbage is an error naming the file", () => {
  const err = assertThrows(() => readOomKillCount(2, V2.replace(CTR, BROKEN)), SauropodError);
  assertEquals(err.kind, "internal");
  assertStringIncludes(err.message, "memory.events");
});
