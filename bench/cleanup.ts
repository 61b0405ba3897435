/**
 * Leaving nothing behind. Each run records what it may create in `<runDir>/manifest.json`
 * before creating it; {@link sweepRun} then removes all of it in dependency order, whether
 * the runtimes were shut down cleanly, crashed, or the bench itself was killed (the next
 * run sweeps runs whose bench process is gone, see {@link sweepStaleRuns}).
 *
 * Everything is found by a name only this run uses (its directory, cgroup root, bridge and
 * network names); nothing else on the machine is touched.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { cgroupDir, type CgroupLayout, detectLayout } from "../cgroups/mod.ts";
import { isAlive, killAndWait, listProcesses } from "./_proc.ts";

/** What a run may leave on the machine, written before it creates any of it. */
export interface RunManifest {
  /** The run's directory: every runtime's root, state, sockets, logs. */
  readonly dir: string;
  /** The bench process; the run is stale once it is gone. */
  readonly pid: number;
  /** The cgroup (in every hierarchy) under which all pods of the run live. */
  readonly cgroupRoot: string;
  /** Pod networks: CNI network name and bridge device. */
  readonly networks: readonly { readonly name: string; readonly bridge: string }[];
  /** runc `--root`s whose containers belong to the run. */
  readonly runcRoots: readonly string[];
  /** Bundles of containerd's shims (`<id>/address` names each shim's socket). */
  readonly containerdBundles: string;
  /** `host:port` of the run's registry, once started. */
  registryHost?: string;
  /**
   * Pod log directories under /var/log/pods (`--client process`): `bench_<name>_<uid>`
   * with this marker in the name.
   */
  readonly podLogMarker?: string;
  /** Directories outside `dir` that existed before the run (kept even if empty after). */
  readonly preexisting: Readonly<Record<string, boolean>>;
}

/** Directories outside the run dir that containerd or libcni may create. */
export const SHARED_DIRS = [
  "/run/containerd/s",
  "/run/containerd",
  "/var/lib/cni/results",
  "/var/lib/cni",
] as const;

const MANIFEST = "manifest.json";
const RUN_PREFIX = "sb-";

/** Which of {@link SHARED_DIRS} exist now. */
export async function sharedDirsPresent(): Promise<Record<string, boolean>> {
  const out: Record<string, boolean> = {};
  for (const d of SHARED_DIRS) {
    out[d] = await Deno.stat(d).then(() => true, () => false);
  }
  return out;
}

/** Writes (or rewrites) the manifest into the run dir. */
export async function writeManifest(m: RunManifest): Promise<void> {
  const tmp = `${m.dir}/${MANIFEST}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(m, null, 2));
  await Deno.rename(tmp, `${m.dir}/${MANIFEST}`);
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return { ok: o.success, out: new TextDecoder().decode(o.stdout) };
  } catch {
    return { ok: false, out: "" };
  }
}

/** Splits a shell-quoted line as iptables -S prints it (double quotes, backslash escapes). */
export function splitQuoted(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === "\\" && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * The nat rules the bridge plugin's ipMasq added for a network (`-A POSTROUTING … -m
 * comment --comment "name: \"<net>\" id: \"<cid>\"" -j CNI-…`): the rule to delete and the
 * per-container chain it jumps to.
 */
export function masqueradeRules(
  iptablesS: string,
  network: string,
): { rule: string[]; chain: string | undefined }[] {
  const out: { rule: string[]; chain: string | undefined }[] = [];
  for (const line of iptablesS.split("\n")) {
    if (!line.startsWith("-A POSTROUTING ")) continue;
    const words = splitQuoted(line);
    const ci = words.indexOf("--comment");
    const comment = ci >= 0 ? words[ci + 1] ?? "" : "";
    if (!comment.includes(`name: "${network}"`)) continue;
    const ji = words.indexOf("-j");
    const target = ji >= 0 ? words[ji + 1] : undefined;
    out.push({ rule: words.slice(2), chain: target?.startsWith("CNI-") ? target : undefined });
  }
  return out;
}

/** Every directory at or below `dir`, deepest first. */
async function treeDeepestFirst(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    try {
      for await (const e of Deno.readDir(d)) if (e.isDirectory) await walk(`${d}/${e.name}`);
    } catch {
      return;
    }
    out.push(d);
  };
  await walk(dir);
  return out;
}

/** Kills what is left in the run's cgroups and removes them, deepest first. */
async function sweepCgroups(cgroupRoot: string, log: Logger): Promise<void> {
  let layout: CgroupLayout;
  try {
    layout = await detectLayout();
  } catch (err) {
    log.warn("cannot read the cgroup layout; cgroups not swept", { err });
    return;
  }
  const mounts = [...layout.v1.values(), ...(layout.unified ? [layout.unified] : [])];
  const roots = [
    ...new Set(mounts.map((m) => {
      try {
        return cgroupDir(m, cgroupRoot);
      } catch {
        return "";
      }
    })),
  ].filter((d) => d !== "");
  const pids = new Set<number>();
  for (const root of roots) {
    for (const d of await treeDeepestFirst(root)) {
      const procs = await Deno.readTextFile(`${d}/cgroup.procs`).catch(() => "");
      for (const p of procs.split("\n").filter(Boolean)) pids.add(Number(p));
    }
  }
  if (pids.size > 0) {
    log.warn("killing processes left in the bench cgroups", { count: pids.size });
    await killAndWait([...pids]);
  }
  for (const root of roots) {
    for (const d of await treeDeepestFirst(root)) {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          await Deno.remove(d);
          break;
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) break;
          // A cgroup stays busy for a moment after its last process died.
          await new Promise((r) => setTimeout(r, 20));
          if (attempt === 49) log.warn("cgroup left behind", { dir: d, err });
        }
      }
    }
  }
}

async function sweepNetworks(m: RunManifest, log: Logger): Promise<void> {
  for (const net of m.networks) {
    // Host ends of veths still attached to the bridge (their namespaces were removed above).
    const links = await run("ip", ["-j", "link", "show", "master", net.bridge]);
    if (links.ok && links.out.trim() !== "") {
      for (const l of JSON.parse(links.out) as { ifname: string }[]) {
        await run("ip", ["link", "del", l.ifname]);
      }
    }
    if ((await run("ip", ["link", "show", net.bridge])).ok) {
      if (!(await run("ip", ["link", "del", net.bridge])).ok) {
        log.warn("bridge left behind", { bridge: net.bridge });
      }
    }
    const nat = await run("iptables", ["-t", "nat", "-S", "POSTROUTING"]);
    for (const r of masqueradeRules(nat.out, net.name)) {
      await run("iptables", ["-t", "nat", "-D", "POSTROUTING", ...r.rule]);
      if (r.chain) {
        await run("iptables", ["-t", "nat", "-F", r.chain]);
        await run("iptables", ["-t", "nat", "-X", r.chain]);
      }
    }
    // libcni's cache: `<network>-<container id>-<ifname>` files.
    try {
      for await (const e of Deno.readDir("/var/lib/cni/results")) {
        if (e.name.startsWith(`${net.name}-`)) {
          await Deno.remove(`/var/lib/cni/results/${e.name}`).catch(() => {});
        }
      }
    } catch {
      // No cache.
    }
  }
}

async function sweepMounts(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
      .filter((mp) => mp === dir || mp.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    if (mounts.length === 0) return;
    for (const mp of mounts) await run("umount", ["-l", mp]);
  }
}

/** Shim sockets containerd 1.6 put in /run/containerd/s for shims that did not remove them. */
async function sweepShimSockets(bundles: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(bundles)) {
      const addr = (await Deno.readTextFile(`${bundles}/${e.name}/address`).catch(() => ""))
        .trim().replace(/^unix:\/\//, "");
      if (addr.startsWith("/run/containerd/s/")) await Deno.remove(addr).catch(() => {});
    }
  } catch {
    // No bundles.
  }
}

/**
 * Removes everything of the run described by `m`: its processes (daemons and shims, found
 * by the run dir in their command line; containers, found in the run's cgroups), runc
 * containers, mounts, bridges, masquerade rules, cgroups, the shared directories it
 * created, and finally the run dir. Idempotent; never throws.
 */
export async function sweepRun(m: RunManifest, log: Logger): Promise<void> {
  const self = new Set([Deno.pid, Deno.ppid]);
  const ours = (await listProcesses()).filter((p) =>
    !self.has(p.pid) && p.argv.some((a) => a === m.dir || a.includes(`${m.dir}/`))
  );
  if (ours.length > 0) {
    log.warn("killing leftover daemons and shims", {
      pids: ours.map((p) => `${p.pid} ${p.argv[0]}`),
    });
    await killAndWait(ours.map((p) => p.pid));
  }
  for (const root of m.runcRoots) {
    const list = await run("runc", ["--root", root, "list", "-q"]);
    for (const id of list.out.split("\n").filter(Boolean)) {
      await run("runc", ["--root", root, "delete", "--force", id]);
    }
  }
  await sweepCgroups(m.cgroupRoot, log);
  await sweepShimSockets(m.containerdBundles);
  await sweepMounts(m.dir);
  await sweepNetworks(m, log);
  if (m.registryHost) await sweepRegistry(m.registryHost, self);
  if (m.podLogMarker) await sweepPodLogs(POD_LOG_ROOT, m.podLogMarker);
  // Shared directories: removed only when this run created them and they are empty.
  for (const d of SHARED_DIRS) {
    if (m.preexisting[d] === false) await Deno.remove(d).catch(() => {});
  }
  await sweepMounts(m.dir);
  await Deno.remove(m.dir, { recursive: true }).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) log.warn("run dir left behind", { err });
  });
}

/** Where the kubelet puts pod log directories (the bench's with `--client process`). */
export const POD_LOG_ROOT = "/var/log/pods";

/** Removes the run's pod log directories (`bench_…<marker>…`) below `root`. */
export async function sweepPodLogs(root: string, marker: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory && e.name.startsWith("bench_") && e.name.includes(marker)) {
        await Deno.remove(`${root}/${e.name}`, { recursive: true }).catch(() => {});
      }
    }
  } catch {
    // No such directory: nothing to sweep.
  }
}

/** A registry started for the run (found by its config naming the run's address). */
async function sweepRegistry(host: string, self: Set<number>): Promise<void> {
  for (const p of await listProcesses()) {
    if (self.has(p.pid) || !(p.argv[0] ?? "").endsWith("docker-registry")) continue;
    const config = p.argv.at(-1) ?? "";
    const text = await Deno.readTextFile(config).catch(() => "");
    if (!text.includes(`addr: ${host}\n`)) continue;
    await killAndWait([p.pid]);
    await Deno.remove(config.slice(0, config.lastIndexOf("/")), { recursive: true })
      .catch(() => {});
  }
}

/** Whether `pid` is still a running bench (not a recycled pid). */
async function benchAlive(pid: number): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
  return cmdline.includes("bench");
}

/** Sweeps runs under `tmpDir` whose bench process is gone (a killed or crashed bench). */
export async function sweepStaleRuns(tmpDir: string, log: Logger): Promise<number> {
  let swept = 0;
  for await (const e of Deno.readDir(tmpDir)) {
    if (!e.isDirectory || !e.name.startsWith(RUN_PREFIX)) continue;
    const dir = `${tmpDir}/${e.name}`;
    let m: RunManifest;
    try {
      m = JSON.parse(await Deno.readTextFile(`${dir}/${MANIFEST}`)) as RunManifest;
    } catch {
      continue;
    }
    if (m.dir !== dir || await benchAlive(m.pid)) continue;
    log.warn("sweeping a bench run whose process is gone", { dir, pid: m.pid });
    await sweepRun(m, log);
    swept++;
  }
  return swept;
}

/** The prefix of run directories under the temp dir. */
export const RUN_DIR_PREFIX = RUN_PREFIX;
