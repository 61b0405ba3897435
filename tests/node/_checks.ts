/**
 * Assertions that hold CRI stats against the kernel's own cgroup v2 files, read right after
 * the stats call.
 *
 * @module
 */
import type { ContainerStats } from "../../api/gen/api.ts";
import { assert, assertEquals } from "../../testing/assert.ts";
import { CGROUP_ROOT, cgroupKeyed, cgroupValue } from "./_node.ts";

/** How far a stable container's memory may move between the stats read and ours. */
const SLACK = 1n << 20n;

/**
 * The memory stats of a container whose memory is steady (a shell loop) match its cgroup:
 * working set = `memory.current` − `inactive_file` (the kubelet's definition), usage =
 * `memory.current`, RSS = `anon`, available = limit − working set; and PSI is reported
 * when the kernel keeps it.
 */
export async function assertStatsMatchKernel(
  s: ContainerStats,
  cgroup: string,
  limit: bigint,
): Promise<void> {
  const current = BigInt(await cgroupValue(cgroup, "memory.current"));
  const stat = await cgroupKeyed(cgroup, "memory.stat");
  const ws = s.memory?.workingSetBytes?.value ?? 0n;
  const expected = current - (stat.get("inactive_file") ?? 0n);
  const near = (a: bigint, b: bigint) => (a > b ? a - b : b - a) <= SLACK;
  assert(near(ws, expected), `working set ${ws} ≈ memory.current − inactive_file = ${expected}`);
  const usage = s.memory?.usageBytes?.value ?? 0n;
  assert(near(usage, current), `usage ${usage} ≈ memory.current ${current}`);
  const rss = s.memory?.rssBytes?.value ?? 0n;
  assert(near(rss, stat.get("anon") ?? 0n), `rss ${rss} ≈ anon ${stat.get("anon")}`);
  assertEquals(s.memory?.availableBytes?.value, limit - ws, "available = limit − working set");
  const psi = await Deno.stat(`${CGROUP_ROOT}${cgroup}/cpu.pressure`).then(() => true, () => false);
  if (psi) assert(s.cpu?.psi?.Some !== undefined, "cpu PSI is reported where the kernel keeps it");
}
