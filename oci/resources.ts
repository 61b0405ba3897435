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
   * swap by default (containerd's SwapControllerAvailable); without it a swap limit is
   * refused (runc would fail on a missing file).
   */
  swapAccounting?: boolean;
  /** The hugetlb controller exists where the runtime manages the container's cgroups. */
  hugetlb?: boolean;
  /**
   * The huge page sizes that controller offers (`2MB`, `1GB`); absent: not checked. A limit
   * for another size is refused unless it is 0.
   */
  hugepageSizes?: readonly string[];
  /**
   * The cgroup version the runtime manages containers with. On 1, `unified` keys are mapped
   * onto the v1 fields they mean (`pids.max`, `memory.max`, `cpu.max`…) or refused.
   */
  cgroupVersion?: 1 | 2;
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
 *
 * Huge pages: the kubelet sends an entry for every page size the node has, with limit 0
 * when the container asks for none. An entry with limit 0 for a size (or on a node) without
 * the hugetlb controller limits nothing that could be used, so it is dropped; a non-zero one
 * there is refused naming it.
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
  if (limit < -1) throw invalidArgument(`${field}.memory_limit_in_bytes: ${limit} is negative`);
  if (swap < -1) {
    throw invalidArgument(`${field}.memory_swap_limit_in_bytes: ${swap} is negative`);
  }
  const memory: NonNullable<LinuxResources["memory"]> = {};
  if (limit !== 0) {
    memory.limit = limit;
    if (swap === 0 && options.swapAccounting) memory.swap = limit;
  }
  if (swap !== 0) {
    if (!options.swapAccounting) {
      throw invalidArgument(
        `${field}.memory_swap_limit_in_bytes: swap is not accounted on this node ` +
          `(no memory.memsw.limit_in_bytes / memory.swap.max)`,
      );
    }
    // Memory+swap, as runc takes it (on v2 runc writes memory.swap.max = swap - limit).
    if (swap > 0 && limit > 0 && swap < limit) {
      throw invalidArgument(
        `${field}.memory_swap_limit_in_bytes: ${swap} (memory+swap) is below ` +
          `memory_limit_in_bytes ${limit}`,
      );
    }
    memory.swap = swap;
  }
  if (memory.swap !== undefined && options.cgroupVersion === 2) {
    // On v2 the file is swap alone (runc's ConvertMemorySwapToCgroupV2Value). runc 1.1 writes
    // nothing when memory+swap equals memory (no swap: what containerd and the kubelet mean),
    // leaving swap unlimited, so the v2 value is written here, through `unified`.
    const total = memory.swap;
    delete memory.swap;
    let v2: string;
    if (total === -1) v2 = "max";
    else if (limit <= 0) {
      throw invalidArgument(
        `${field}.memory_swap_limit_in_bytes: a swap limit needs memory_limit_in_bytes`,
      );
    } else v2 = String(total - limit);
    out.unified = { "memory.swap.max": v2 };
  }
  if (Object.keys(memory).length > 0) out.memory = memory;

  const pages: NonNullable<LinuxResources["hugepageLimits"]> = [];
  r.hugepageLimits.forEach((h, i) => {
    const f = `${field}.hugepage_limits[${i}]`;
    if (!PAGE_SIZE.test(h.pageSize)) {
      throw invalidArgument(`${f}.page_size: "${h.pageSize}" is not a page size like 2MB`);
    }
    const bytes = safe(h.limit, `${f}.limit`);
    if (bytes < 0) throw invalidArgument(`${f}.limit: ${bytes} is negative`);
    const usable = options.hugetlb === true &&
      (options.hugepageSizes === undefined || options.hugepageSizes.includes(h.pageSize));
    if (!usable) {
      if (bytes === 0) return;
      throw invalidArgument(
        options.hugetlb
          ? `${f}: the node has no ${h.pageSize} huge pages (it has ${
            options.hugepageSizes?.join(", ") || "none"
          })`
          : `${f}: a ${h.pageSize} huge page limit is set but the node has no hugetlb cgroup controller`,
      );
    }
    pages.push({ pageSize: h.pageSize, limit: bytes });
  });
  if (pages.length > 0) out.hugepageLimits = pages;

  const unified = Object.entries(r.unified);
  if (unified.length > 0) {
    for (const [k] of unified) {
      if (k === "" || k.includes("/") || k === "." || k === "..") {
        throw invalidArgument(`${field}.unified: "${k}" is not a cgroup file name`);
      }
    }
    if (options.cgroupVersion === 1) {
      for (const [k, v] of unified) unifiedOnV1(out, k, v, `${field}.unified["${k}"]`, options);
    } else {
      // The request's own keys win over what the mapping derived (memory.swap.max).
      out.unified = { ...out.unified, ...Object.fromEntries(unified) };
    }
  }
  return out;
}

/** A v2 `max`-or-number value, as a number (-1 for max). */
function maxOrNumber(v: string, field: string): number {
  if (v.trim() === "max") return -1;
  const n = Number(v.trim());
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) {
    throw invalidArgument(`${field}: "${v}" is not a number or "max"`);
  }
  return n;
}

/**
 * A cgroup v2 `unified` key on a v1 node: the keys with a v1 equivalent set that field
 * (runc refuses `unified` on v1 altogether); the others are refused naming the key.
 */
function unifiedOnV1(
  out: LinuxResources,
  key: string,
  value: string,
  field: string,
  options: ResourceOptions,
): void {
  const hugetlb = key.match(/^hugetlb\.([0-9]+[KMGT]B)\.max$/);
  if (hugetlb) {
    const pageSize = hugetlb[1]!;
    if (!options.hugetlb || (options.hugepageSizes && !options.hugepageSizes.includes(pageSize))) {
      throw invalidArgument(`${field}: the node has no hugetlb controller for ${pageSize} pages`);
    }
    const limit = maxOrNumber(value, field);
    out.hugepageLimits = [
      ...(out.hugepageLimits ?? []).filter((h) => h.pageSize !== pageSize),
      // v1 has no "max": the largest value the kernel takes means the same.
      { pageSize, limit: limit < 0 ? Number.MAX_SAFE_INTEGER : limit },
    ];
    return;
  }
  switch (key) {
    case "pids.max":
      out.pids = { limit: maxOrNumber(value, field) };
      return;
    case "memory.max":
      (out.memory ??= {}).limit = maxOrNumber(value, field);
      return;
    case "memory.low":
      (out.memory ??= {}).reservation = maxOrNumber(value, field);
      return;
    case "cpu.max": {
      const [q, p] = value.trim().split(/\s+/);
      const cpu = out.cpu ??= {};
      cpu.quota = maxOrNumber(q ?? "", field);
      if (p !== undefined) cpu.period = maxOrNumber(p, field);
      return;
    }
    case "cpu.weight": {
      const w = maxOrNumber(value, field);
      if (w < 1 || w > 10000) throw invalidArgument(`${field}: "${value}" is not in 1..10000`);
      // The inverse of runc's shares → weight conversion.
      (out.cpu ??= {}).shares = 2 + Math.round(((w - 1) * 262142) / 9999);
      return;
    }
    case "cpuset.cpus":
      (out.cpu ??= {}).cpus = checkCpuList(value.trim(), field);
      return;
    case "cpuset.mems":
      (out.cpu ??= {}).mems = checkCpuList(value.trim(), field);
      return;
    default:
      throw invalidArgument(
        `${field}: the node runs cgroup v1, and this cgroup v2 key has no v1 equivalent ` +
          `(mapped: pids.max, memory.max, memory.low, cpu.max, cpu.weight, cpuset.cpus, ` +
          `cpuset.mems, hugetlb.<size>.max)`,
      );
  }
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

/**
 * The resources a container has after an update: `next`'s fields where set (non-zero,
 * non-empty), `previous`'s elsewhere, since `runc update` leaves unset fields as they were.
 * Huge page limits and unified keys merge by page size and key. oom_score_adj is not
 * updated (as containerd), so `previous`'s stays.
 */
export function mergeCriResources(
  previous: LinuxContainerResources | undefined,
  next: LinuxContainerResources,
): LinuxContainerResources {
  const p = previous;
  const pick = <T>(n: T, o: T | undefined, zero: T): T => (n !== zero ? n : o ?? zero);
  const pages = new Map((p?.hugepageLimits ?? []).map((h) => [h.pageSize, h]));
  for (const h of next.hugepageLimits) pages.set(h.pageSize, h);
  return {
    cpuPeriod: pick(next.cpuPeriod, p?.cpuPeriod, 0n),
    cpuQuota: pick(next.cpuQuota, p?.cpuQuota, 0n),
    cpuShares: pick(next.cpuShares, p?.cpuShares, 0n),
    memoryLimitInBytes: pick(next.memoryLimitInBytes, p?.memoryLimitInBytes, 0n),
    oomScoreAdj: p?.oomScoreAdj ?? 0n,
    cpusetCpus: pick(next.cpusetCpus, p?.cpusetCpus, ""),
    cpusetMems: pick(next.cpusetMems, p?.cpusetMems, ""),
    hugepageLimits: [...pages.values()],
    unified: { ...p?.unified, ...next.unified },
    memorySwapLimitInBytes: pick(next.memorySwapLimitInBytes, p?.memorySwapLimitInBytes, 0n),
  };
}
