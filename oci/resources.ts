/**
 * CRI `LinuxContainerResources` → OCI `linux.resources`, shared by CreateContainer and
 * UpdateContainerResources, and the oom_score_adj clamp (containerd's
 * `restrict_oom_score_adj`).
 *
 * @module
 */
import type { LinuxContainerResources } from "../api/gen/api.ts";
import { invalidArgument } from "../errors/mod.ts";
import type { LinuxResources } from "./spec.ts";

/** Facts about the node's cgroups that change what a spec may ask for. */
export interface ResourceOptions {
  /**
   * Swap is accounted (`memory.memsw.*` on v1, `memory.swap.max` on v2). Then a memory
   * limit without a swap limit also caps memory+swap at the limit, so containers do not
   * swap by default (containerd's SwapControllerAvailable); without it a swap limit would
   * make runc fail on a missing file, so none is set.
   */
  swapAccounting?: boolean;
  /** The hugetlb controller exists; huge page limits are refused otherwise. */
  hugetlb?: boolean;
  /** Field path of the resources message, for error messages. */
  field?: string;
}

/** A bigint from the wire as a JSON-safe number, or invalid-argument naming the field. */
function safe(v: bigint, field: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`${field}: ${v} is out of range`);
  return n;
}

const PAGE_SIZE = /^[1-9][0-9]*[KMGT]B$/;

/**
 * The OCI resources for CRI resources, as containerd's WithResources maps them: zero means
 * "not set" for every number; `cpuset_*`, `hugepage_limits` and `unified` pass through.
 * Returns undefined for undefined input. Device rules are not part of it (see the spec
 * builders).
 */
export function linuxResourcesFromCri(
  r: LinuxContainerResources | undefined,
  options: ResourceOptions = {},
): LinuxResources | undefined {
  if (r === undefined) return undefined;
  const field = options.field ?? "resources";
  const out: LinuxResources = {};

  const period = safe(r.cpuPeriod, `${field}.cpu_period`);
  const quota = safe(r.cpuQuota, `${field}.cpu_quota`);
  const shares = safe(r.cpuShares, `${field}.cpu_shares`);
  if (period < 0) throw invalidArgument(`${field}.cpu_period: ${period} is negative`);
  if (shares < 0) throw invalidArgument(`${field}.cpu_shares: ${shares} is negative`);
  const cpu: NonNullable<LinuxResources["cpu"]> = {};
  if (period !== 0) cpu.period = period;
  if (quota !== 0) cpu.quota = quota;
  if (shares !== 0) cpu.shares = shares;
  if (r.cpusetCpus !== "") cpu.cpus = checkCpuList(r.cpusetCpus, `${field}.cpuset_cpus`);
  if (r.cpusetMems !== "") cpu.mems = checkCpuList(r.cpusetMems, `${field}.cpuset_mems`);
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const limit = safe(r.memoryLimitInBytes, `${field}.memory_limit_in_bytes`);
  const swap = safe(r.memorySwapLimitInBytes, `${field}.memory_swap_limit_in_bytes`);
  const memory: NonNullable<LinuxResources["memory"]> = {};
  if (limit !== 0) {
    memory.limit = limit;
    if (swap === 0 && options.swapAccounting) memory.swap = limit;
  }
  if (swap !== 0 && options.swapAccounting) memory.swap = swap;
  if (Object.keys(memory).length > 0) out.memory = memory;

  if (r.hugepageLimits.length > 0) {
    if (!options.hugetlb) {
      throw invalidArgument(
        `${field}.hugepage_limits: huge page limits are set but the node has no hugetlb cgroup controller`,
      );
    }
    out.hugepageLimits = r.hugepageLimits.map((h, i) => {
      if (!PAGE_SIZE.test(h.pageSize)) {
        throw invalidArgument(
          `${field}.hugepage_limits[${i}].page_size: "${h.pageSize}" is not a page size like 2MB`,
        );
      }
      return { pageSize: h.pageSize, limit: safe(h.limit, `${field}.hugepage_limits[${i}].limit`) };
    });
  }

  const unified = Object.entries(r.unified);
  if (unified.length > 0) {
    for (const [k] of unified) {
      if (k === "" || k.includes("/") || k === "." || k === "..") {
        throw invalidArgument(`${field}.unified: "${k}" is not a cgroup file name`);
      }
    }
    out.unified = Object.fromEntries(unified);
  }
  return out;
}

/** `0-3,8,10-11`: the kernel's cpu/mem list format, checked so runc does not fail late. */
function checkCpuList(s: string, field: string): string {
  if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(s)) {
    throw invalidArgument(`${field}: "${s}" is not a list like 0-3,8`);
  }
  return s;
}

/** How oom_score_adj is restricted. */
export interface OomScoreAdjPolicy {
  /**
   * Clamp requests below the agent's own score (containerd's restrict_oom_score_adj): an
   * agent without CAP_SYS_RESOURCE cannot lower a score, and runc would die with an opaque
   * "can't get final child's PID from pipe: EOF".
   */
  restrict: boolean;
  /** The agent's own `/proc/self/oom_score_adj`. */
  agentScore: number;
}

/**
 * The oom_score_adj to write for a requested one: `max(requested, agentScore)` when
 * restricted. Out of the kernel's -1000..1000 is invalid-argument naming `field`.
 */
export function restrictOomScoreAdj(
  requested: number,
  policy: OomScoreAdjPolicy,
  field: string,
): number {
  if (!Number.isInteger(requested) || requested < -1000 || requested > 1000) {
    throw invalidArgument(`${field}: ${requested} is outside -1000..1000`);
  }
  return policy.restrict && requested < policy.agentScore ? policy.agentScore : requested;
}
