// test-permissions: --allow-read=cgroups/testdata
import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import {
  parseBlkioRecursive,
  parseFlatKeyed,
  parseIoStat,
  parseLimit,
  parseNestedKeyed,
  parsePressure,
  parseSingleValue,
} from "./parse.ts";
import { CTR, fixture, POD_UID } from "./_test_fixtures.ts";

const V1_CTR = `tree/v1/sys/fs/cgroup/memory/kubepods/burstable/pod${POD_UID}/${CTR}`;
const V2_CTR = `tree/v2/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/` +
  `kubepods-burstable-pod${POD_UID.replaceAll("-", "_")}.slice/cri-sauropod-${CTR}.scope`;

function assertInternal(fn: () => unknown, includes: string): void {
  const err = assertThrows(fn, SauropodError);
  assertEquals(err.kind, "internal");
  if (!err.message.includes(includes)) {
    throw new Error(`message ${JSON.stringify(err.message)} lacks ${JSON.stringify(includes)}`);
  }
}

Deno.test("parseSingleValue() reads a counter with its trailing newline", () => {
  assertEquals(parseSingleValue("1234567000\n", "cpuacct.usage"), 1234567000n);
  assertEquals(parseSingleValue("9223372036854771712\n", "x"), 9223372036854771712n);
});

Deno.test("parseSingleValue() rejects garbage naming the file", () => {
  assertInternal(() => parseSingleValue("12ab\n", "memory.current"), "memory.current");
  assertInternal(() => parseSingleValue("", "pids.current"), "pids.current");
  assertInternal(() => parseSingleValue("-1\n", "pids.current"), "not an unsigned integer");
});

Deno.test("parseLimit() reads 'max' as unlimited", () => {
  assertEquals(parseLimit("max\n", "memory.max"), null);
  assertEquals(parseLimit("134217728\n", "memory.max"), 134217728n);
});

Deno.test("parseFlatKeyed() reads v1 memory.stat with hierarchical totals", () => {
  const stat = parseFlatKeyed(fixture(`${V1_CTR}/memory.stat`), "memory.stat");
  assertEquals(stat.get("total_inactive_file"), 10485760n);
  assertEquals(stat.get("total_rss"), 31457280n);
  assertEquals(stat.get("hierarchical_memory_limit"), 134217728n);
  assertEquals(stat.size, 42);
});

Deno.test("parseFlatKeyed() reads v2 memory.stat and memory.events", () => {
  const stat = parseFlatKeyed(fixture(`${V2_CTR}/memory.stat`), "memory.stat");
  assertEquals(stat.get("anon"), 31457280n);
  assertEquals(stat.get("pgmajfault"), 67n);
  const events = parseFlatKeyed(fixture(`${V2_CTR}/memory.events`), "memory.events");
  assertEquals([...events.keys()], ["low", "high", "max", "oom", "oom_kill", "oom_group_kill"]);
});

Deno.test("parseFlatKeyed() reads v1 memory.oom_control", () => {
  const oom = parseFlatKeyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "memory.oom_control");
  assertEquals(oom.get("oom_kill"), 3n);
});

Deno.test("parseFlatKeyed() rejects a line without a value", () => {
  assertInternal(() => parseFlatKeyed("anon 1\nfile\n", "memory.stat"), "memory.stat: line 2");
});

Deno.test("parseFlatKeyed() rejects a non-numeric value naming the key", () => {
  assertInternal(() => parseFlatKeyed("anon lots\n", "memory.stat"), "(anon)");
});

Deno.test("parseNestedKeyed() reads io.stat lines", () => {
  const nested = parseNestedKeyed(
    "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n" +
      "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n",
    "io.stat",
  );
  assertEquals(nested.get("8:16")?.get("wbytes"), "314773504");
  assertEquals(nested.get("8:0")?.get("dios"), "3021");
});

Deno.test("parseNestedKeyed() rejects a pair without '='", () => {
  assertInternal(() => parseNestedKeyed("8:0 rbytes\n", "io.stat"), "SUB=VALUE");
});

Deno.test("parseIoStat() turns values into counters", () => {
  const io = parseIoStat(fixture(`${V2_CTR}/io.stat`), "io.stat");
  assertEquals(io.get("8:0")?.get("rbytes"), 4096000n);
  assertInternal(() => parseIoStat("8:0 rbytes=x\n", "io.stat"), "8:0 rbytes");
});

Deno.test("parsePressure() reads some and full lines", () => {
  const psi = parsePressure(fixture(`${V2_CTR}/cpu.pressure`), "cpu.pressure");
  assertEquals(psi, {
    some: { avg10: 1.5, avg60: 0.75, avg300: 0.25, total: 123456n },
    full: { avg10: 0.5, avg60: 0.2, avg300: 0.05, total: 45678n },
  });
});

Deno.test("parsePressure() accepts a cpu.pressure without full (before Linux 5.13)", () => {
  const psi = parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "cpu.pressure");
  assertEquals(psi, { some: { avg10: 0, avg60: 0, avg300: 0, total: 0n } });
});

Deno.test("parsePressure() rejects a file without some, or a bad average", () => {
  assertInternal(() => parsePressure("", "io.pressure"), 'no "some"');
  assertInternal(
    () => parsePressure("some avg10=x avg60=0.00 avg300=0.00 total=0\n", "io.pressure"),
    "avg10",
  );
  assertInternal(
    () => parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00\n", "io.pressure"),
    "total",
  );
});

Deno.test("parseBlkioRecursive() reads per-device operations and the total", () => {
  const stats = parseBlkioRecursive(
    fixture(
      `tree/v1/sys/fs/cgroup/blkio/kubepods/burstable/pod${POD_UID}/${CTR}/blkio.throttle.io_service_bytes_recursive`,
    ),
    "blkio.throttle.io_service_bytes_recursive",
  );
  assertEquals(stats.devices.get("8:0")?.get("Read"), 4096000n);
  assertEquals(stats.devices.get("8:0")?.get("Write"), 8192000n);
  assertEquals(stats.total, 12288000n);
});

Deno.test("parseBlkioRecursive() reads a cgroup without I/O ('Total 0' only)", () => {
  const stats = parseBlkioRecursive("Total 0\n", "blkio.throttle.io_serviced_recursive");
  assertEquals(stats.devices.size, 0);
  assertEquals(stats.total, 0n);
});

Deno.test("parseBlkioRecursive() rejects a line that is not MAJ:MIN OP VALUE", () => {
  assertInternal(() => parseBlkioRecursive("sda Read 1\n", "blkio.x"), "MAJ:MIN OP VALUE");
});
