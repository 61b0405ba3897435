/**
 * What the real-node tests share: whether this machine is a node they may run on (systemd
 * as PID 1, a pure cgroup v2 hierarchy, and for the tests that install things or create
 * kubepods slices, a throwaway one), and small helpers over systemd and cgroupfs.
 *
 * The tier runs inside `../shared/vm/node-vm`'s guest (see `run.ts`); anywhere else each
 * test is ignored with the reason in its name, so nothing is silently not run.
 *
 * @module
 */
import { parseFlatKeyed } from "../../cgroups/parse.ts";
import { PID_FILE, SHIM_LOG_FILE } from "../../shim/protocol.ts";

const dec = new TextDecoder();

/** Where the unified cgroup hierarchy is mounted on a systemd node. */
export const CGROUP_ROOT = "/sys/fs/cgroup";

/** What decides whether (and which of) the node tests can run here. */
export interface NodeFacts {
  /** `comm` of PID 1. */
  pid1: string;
  /** Filesystem types mounted at or under /sys/fs/cgroup. */
  cgroupMounts: string[];
  /** Controllers the v2 root offers (empty without cgroup2 at /sys/fs/cgroup). */
  controllers: string[];
  /** Booted by node-vm (`nodevm=` on the kernel command line): a disposable machine. */
  guest: boolean;
  /** `uname -r`. */
  kernel: string;
}

/** Reads the facts of this machine; never throws (unknown facts read as absent). */
export async function readNodeFacts(): Promise<NodeFacts> {
  const read = (p: string) => Deno.readTextFile(p).then((t) => t, () => "");
  const mountinfo = await read("/proc/self/mountinfo");
  const cgroupMounts: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    const point = f[4] ?? "";
    if (sep > 0 && (point === CGROUP_ROOT || point.startsWith(`${CGROUP_ROOT}/`))) {
      cgroupMounts.push(f[sep + 1] ?? "");
    }
  }
  const isV2 = cgroupMounts.length === 1 && cgroupMounts[0] === "cgroup2";
  return {
    pid1: (await read("/proc/1/comm")).trim(),
    cgroupMounts,
    controllers: isV2
      ? (await read(`${CGROUP_ROOT}/cgroup.controllers`)).trim().split(/\s+/).filter(Boolean)
      : [],
    guest: /(^|\s)nodevm=/.test(await read("/proc/cmdline")),
    kernel: (await read("/proc/sys/kernel/osrelease")).trim(),
  };
}

/** What a test needs of the machine. */
export type NodeNeed =
  /** systemd PID 1 and pure cgroup v2 with cpu, memory, pids: a modern Kubernetes node. */
  | "node"
  /** That, and a machine the test may change (it installs sauropod, creates kubepods slices). */
  | "disposable";

/** Controllers the kubelet needs on a cgroup v2 node. */
const NEEDED_CONTROLLERS = ["cpu", "memory", "pids"];

/**
 * Why a test needing `need` cannot run on a machine with `facts`; undefined when it can.
 * `optIn` is `SAUROPOD_DISPOSABLE_NODE=1`: someone declaring a real node throwaway.
 */
export function nodeSkipReason(
  facts: NodeFacts,
  need: NodeNeed,
  optIn = false,
): string | undefined {
  if (facts.pid1 !== "systemd") {
    return `needs systemd as PID 1 (PID 1 is ${facts.pid1 || "unknown"}); ` +
      "run the tier in the node-vm guest: deno task test:node";
  }
  if (facts.cgroupMounts.length !== 1 || facts.cgroupMounts[0] !== "cgroup2") {
    const seen = facts.cgroupMounts.length ? facts.cgroupMounts.join("+") : "nothing";
    return `needs a pure cgroup v2 hierarchy at ${CGROUP_ROOT} (mounted there: ${seen})`;
  }
  const missing = NEEDED_CONTROLLERS.filter((c) => !facts.controllers.includes(c));
  if (missing.length) return `needs the cgroup v2 controllers ${missing.join(", ")}`;
  if (need === "disposable" && !facts.guest && !optIn) {
    return "changes the machine (installs sauropod, creates kubepods slices): runs only in " +
      "the node-vm guest, or with SAUROPOD_DISPOSABLE_NODE=1 on a node you can throw away";
  }
  return undefined;
}

const facts = await readNodeFacts();
const optIn = (() => {
  try {
    return Deno.env.get("SAUROPOD_DISPOSABLE_NODE") === "1";
  } catch {
    return false;
  }
})();

/**
 * The definition of a node test, for `Deno.test(onNode(…))` in the test file (so reports
 * name that file): ignored, with the reason in its name, where it cannot run. Sanitizers
 * are off as in the e2e tier: agents and registries live across steps.
 */
export function onNode(
  name: string,
  need: NodeNeed,
  fn: (t: Deno.TestContext) => Promise<void>,
): Deno.TestDefinition {
  const skip = nodeSkipReason(facts, need, optIn);
  return {
    name: skip ? `${name} (skipped: ${skip})` : name,
    ignore: skip !== undefined,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  };
}

/** What a test shows when one of its steps runs long: an agent's log, a unit's journal. */
type HangReporter = () => string | Promise<string>;
const hangReporters = new Set<HangReporter>();

/**
 * After this long, and as often again, a running step prints what the reporters show
 * (`NODE_TIER_STEP_REPORT_S`, default 90 s).
 */
const STEP_REPORT_MS = (() => {
  try {
    return Number(Deno.env.get("NODE_TIER_STEP_REPORT_S") || 90) * 1000;
  } catch {
    return 90_000;
  }
})();

/**
 * Registers `fn` to show what is going on while a step runs long (see {@link step}), until
 * the returned handle is disposed.
 */
export function reportOnHang(fn: HangReporter): Disposable {
  hangReporters.add(fn);
  return { [Symbol.dispose]: () => void hangReporters.delete(fn) };
}

/**
 * Runs a step and stops the test when it fails: later steps build on earlier ones, and
 * their failures would only bury the first. A step still running after 90 s prints what the
 * {@link reportOnHang} reporters show (again every 90 s): if the guest then stops the file
 * at its time limit, the tail of its output says where the agent was.
 */
export async function step(
  t: Deno.TestContext,
  name: string,
  fn: () => Promise<void>,
): Promise<void> {
  const started = Date.now();
  const timer = setInterval(async () => {
    const lines = [
      `node test: "${name}" still running after ${Math.round((Date.now() - started) / 1000)} s`,
    ];
    for (const r of hangReporters) {
      lines.push(await Promise.resolve().then(r).catch((err) => `(reporter failed: ${err})`));
    }
    // deno-lint-ignore no-console -- shown in the guest's output and the stopped file's report
    console.error(lines.join("\n"));
  }, STEP_REPORT_MS);
  try {
    if (!(await t.step(name, fn))) throw new Error(`step failed: ${name}`);
  } finally {
    clearInterval(timer);
  }
}

/** The result of a finished command. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** How long a command of a node test may run: `systemctl start` waits for READY=1 at most. */
const COMMAND_LIMIT_MS = 180_000;

/**
 * Runs `cmd` to completion; never throws for a non-zero exit. One that outlives `limitMs` is
 * killed and throws, naming itself: a hung `systemctl` fails its step, not the whole file.
 */
export async function run(cmd: string, args: string[], limitMs = COMMAND_LIMIT_MS): Promise<Ran> {
  const signal = AbortSignal.timeout(limitMs);
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const stderr = dec.decode(out.stderr);
  if (signal.aborted) {
    throw new Error(
      `${cmd} ${args.join(" ")} did not finish within ${limitMs / 1000} s: ${stderr.trim()}`,
    );
  }
  return { code: out.code, stdout: dec.decode(out.stdout), stderr };
}

/** Runs `cmd` and returns its stdout; throws with its stderr when it fails. */
export async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited with ${r.code}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** Properties of a systemd unit (`systemctl show`); a unit systemd does not know has LoadState=not-found. */
export async function unitProps(unit: string, props: string[]): Promise<Record<string, string>> {
  const out = await sh("systemctl", ["show", unit, ...props.map((p) => `--property=${p}`)]);
  const rec: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) rec[line.slice(0, i)] = line.slice(i + 1);
  }
  return rec;
}

/** A flat-keyed cgroup file (`memory.events`, `cpu.stat`) of the cgroup at `rel`. */
export async function cgroupKeyed(rel: string, file: string): Promise<Map<string, bigint>> {
  const path = `${CGROUP_ROOT}${rel}/${file}`;
  return parseFlatKeyed(await Deno.readTextFile(path), path);
}

/** One line of a cgroup file (`memory.max`, `cpu.max`), trimmed. */
export async function cgroupValue(rel: string, file: string): Promise<string> {
  return (await Deno.readTextFile(`${CGROUP_ROOT}${rel}/${file}`)).trim();
}

/** Whether the cgroup at `rel` exists. */
export async function cgroupExists(rel: string): Promise<boolean> {
  return await Deno.stat(`${CGROUP_ROOT}${rel}`).then(() => true, () => false);
}

/** The unified-hierarchy cgroup of process `pid` (`0::/a/b` → `/a/b`). */
export async function cgroupOf(pid: number): Promise<string> {
  const text = await Deno.readTextFile(`/proc/${pid}/cgroup`);
  const line = text.split("\n").find((l) => l.startsWith("0::"));
  if (!line) throw new Error(`process ${pid} has no cgroup v2 entry: ${text}`);
  return line.slice(3);
}

/** The pid of the shim of container `id` of an agent whose state dir is `state`. */
export async function shimPid(state: string, id: string): Promise<number> {
  const pid = Number((await Deno.readTextFile(`${state}/shims/${id}/${PID_FILE}`)).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no shim pid for container ${id}`);
  return pid;
}

/** The last `lines` lines of a container's shim log, for failure messages. */
export async function shimLog(state: string, id: string, lines = 30): Promise<string> {
  const text = await Deno.readTextFile(`${state}/shims/${id}/${SHIM_LOG_FILE}`).catch((err) =>
    `(no shim log: ${err})`
  );
  return `shim log of ${id}:\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`;
}

/** Whether process `pid` exists and is not a zombie. */
export async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
