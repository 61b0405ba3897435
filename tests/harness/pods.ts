/**
 * Helpers for end-to-end tests: pod and container configs the way the kubelet fills them,
 * log reading, polling, and the leak check every lifecycle test ends with.
 *
 * @module
 */
import type { CriClient, DeepPartial } from "./cri_client.ts";
import { type ContainerConfig, NamespaceMode, type PodSandboxConfig } from "../../api/gen/api.ts";
import { runtimeRoots, shimProcesses, type TestAgent } from "./agent.ts";

let counter = 0;

/** A pod config with unique metadata and a log directory under `logRoot`. */
export function podConfig(
  logRoot: string,
  name = `pod${++counter}`,
  extra: DeepPartial<PodSandboxConfig> = {},
): DeepPartial<PodSandboxConfig> {
  const uid = crypto.randomUUID();
  return {
    metadata: { name, namespace: "e2e", uid, attempt: 0 },
    hostname: name,
    logDirectory: `${logRoot}/e2e_${name}_${uid}`,
    labels: { app: name, "e2e.sauropod/test": "1" },
    annotations: { "e2e.sauropod/pod": name },
    // As the kubelet sends it: a PID namespace per container unless shareProcessNamespace.
    linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
    ...extra,
  };
}

/** A container config running `args` in `image`. */
export function containerConfig(
  name: string,
  image: string,
  args: string[],
  extra: DeepPartial<ContainerConfig> = {},
): DeepPartial<ContainerConfig> {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    command: args.slice(0, 1),
    args: args.slice(1),
    logPath: `${name}/0.log`,
    labels: { container: name },
    ...extra,
  };
}

/** CreateContainer then StartContainer of `config` in pod `podSandboxId`; returns its id. */
export async function runContainer(
  client: CriClient,
  podSandboxId: string,
  config: DeepPartial<ContainerConfig>,
  sandboxConfig?: DeepPartial<PodSandboxConfig>,
): Promise<string> {
  const { containerId } = await client.runtime.createContainer({
    podSandboxId,
    config,
    ...(sandboxConfig ? { sandboxConfig } : {}),
  });
  await client.runtime.startContainer({ containerId });
  return containerId;
}

/** Polls `fn` until it returns a value other than undefined, or fails after `ms`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

/** One parsed CRI log line. */
export interface LogLine {
  time: string;
  stream: "stdout" | "stderr";
  tag: "P" | "F";
  text: string;
}

/** Parses a CRI log file (`<RFC3339Nano> <stream> <P|F> <text>` per line). */
export async function readCriLog(path: string): Promise<LogLine[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean).map((l) => {
    const m = l.match(/^(\S+) (stdout|stderr) ([PF]) (.*)$/s);
    if (!m) throw new Error(`malformed CRI log line: ${JSON.stringify(l.slice(0, 200))}`);
    return {
      time: m[1]!,
      stream: m[2] as "stdout" | "stderr",
      tag: m[3] as "P" | "F",
      text: m[4]!,
    };
  });
}

/** Joins P pieces and F lines into whole lines per stream, as `crictl logs` does. */
export function wholeLines(lines: LogLine[], stream?: "stdout" | "stderr"): string[] {
  const out: string[] = [];
  const pending: Record<string, string> = { stdout: "", stderr: "" };
  for (const l of lines) {
    if (stream && l.stream !== stream) continue;
    pending[l.stream] += l.text;
    if (l.tag === "F") {
      out.push(pending[l.stream]!);
      pending[l.stream] = "";
    }
  }
  return out;
}

/** What a test agent left on the machine, per kind; empty lists mean nothing leaked. */
export interface Leftovers {
  runcContainers: string[];
  mounts: string[];
  nsFiles: string[];
  shims: number[];
  containerDirs: string[];
  sandboxDirs: string[];
  cgroups: string[];
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Inspects the machine for anything the agent made that still exists. */
export async function leftovers(agent: TestAgent, cgroupNames: string[] = []): Promise<Leftovers> {
  const runcContainers: string[] = [];
  for (const root of await runtimeRoots(agent)) {
    const out = await new Deno.Command("runc", {
      args: ["--root", root, "list", "-q"],
      stderr: "null",
    })
      .output();
    runcContainers.push(...new TextDecoder().decode(out.stdout).split("\n").filter(Boolean));
  }
  const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((mp) => mp.startsWith(`${agent.dir}/`) && mp !== `${agent.state}/ns`);
  // A spare shim (started ahead, never given a container) is not a leftover of a pod.
  const shims = (await shimProcesses(agent.state)).filter((s) => !s.spare).map((s) => s.pid);
  const cgroups: string[] = [];
  for (const name of cgroupNames) {
    for (const ctrl of ["memory", "cpu", "pids"]) {
      const p = `/sys/fs/cgroup/${ctrl}${name}`;
      if (await Deno.stat(p).then(() => true, () => false)) cgroups.push(p);
    }
  }
  return {
    runcContainers,
    mounts,
    nsFiles: await list(`${agent.state}/ns`),
    shims,
    containerDirs: await list(`${agent.root}/containers`),
    sandboxDirs: [
      ...await list(`${agent.root}/sandboxes`),
      ...await list(`${agent.state}/sandboxes`),
    ],
    cgroups,
  };
}

/** The empty {@link Leftovers}, for assertEquals. */
export const NOTHING: Leftovers = {
  runcContainers: [],
  mounts: [],
  nsFiles: [],
  shims: [],
  containerDirs: [],
  sandboxDirs: [],
  cgroups: [],
};
