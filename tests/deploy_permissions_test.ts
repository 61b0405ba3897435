/**
 * What the agent's permissions refuse, shown by a probe process started with the flags
 * `sauropod serve` computes from the default (installed) configuration on this node, and
 * with deno.json's launcher set (`deno run -P=agent`, as the unit starts it); then the
 * running agent's own flags, and a running shim's. Refused actions never take effect;
 * allowed writes into production directories are only queried, so nothing on the node
 * changes.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { defaultConfig } from "../config/mod.ts";
import { which } from "../lib/exec.ts";
import { agentGrants, hostFacts, permissionFlags } from "../app/permissions.ts";
import type { ProbeAction, ProbeResult } from "../deploy/testing/permission_probe.ts";
import { e2eEnv } from "./harness/env.ts";
import * as grpc from "@grpc/grpc-js";
import { CriError } from "./harness/cri_client.ts";
import {
  containerConfig,
  eventually,
  podConfig,
  readCriLog,
  runContainer,
  wholeLines,
} from "./harness/pods.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const PROBE = `${ROOT}/deploy/testing/permission_probe.ts`;

/** The flags `sauropod serve` runs under with the installed (default) config. */
const AGENT = permissionFlags(agentGrants(defaultConfig(), hostFacts(which)));

/** Runs the probe under `-P=<set>`, or under explicit permission flags. */
async function probe(set: string | string[], actions: ProbeAction[]): Promise<string[]> {
  const perms = typeof set === "string" ? [`--config=${ROOT}/deno.json`, `-P=${set}`] : set;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, "--quiet", "--no-prompt", PROBE, JSON.stringify(actions)],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // A variable the agent must not see, to show that env stays closed.
    env: { SAUROPOD_PROBE_SECRET: "hunter2" },
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success && text, `probe failed: ${new TextDecoder().decode(out.stderr)}`);
  return (JSON.parse(text) as ProbeResult[]).map((r) => r.outcome);
}

const write = (path: string): ProbeAction => ({ do: "write", path });
const mayWrite = (path: string): ProbeAction => ({
  do: "query",
  desc: { name: "write", path },
});
const run = (cmd: string, ...args: string[]): ProbeAction => ({ do: "run", cmd, args });
const tag = `sauropod-probe-${crypto.randomUUID().slice(0, 8)}`;

Deno.test("deploy: the agent's computed set refuses writes outside its directories", async () => {
  const outside = [
    `/etc/${tag}`,
    `/usr/local/bin/${tag}`,
    `/root/${tag}`,
    `/tmp/${tag}`,
    `/var/lib/kubelet/${tag}`,
    `/etc/cni/net.d/${tag}`,
  ];
  const inside = [
    `/var/lib/sauropod/${tag}`,
    `/run/sauropod/shims/${tag}`,
    `/var/log/pods/${tag}`,
    `/sys/fs/cgroup/memory/${tag}`,
  ];
  const got = await probe(AGENT, [...outside.map(write), ...inside.map(mayWrite)]);
  assertEquals(got, [...outside.map(() => "NotCapable"), ...inside.map(() => "granted")]);
  for (const p of outside) {
    assert(!(await Deno.stat(p).then(() => true, () => false)), `${p} was written`);
  }
});

Deno.test("deploy: the agent's computed set runs only the OCI runtime, CNI plugins and its helpers", async () => {
  const got = await probe(AGENT, [
    run("/bin/sh", "-c", "true"),
    run("sh", "-c", "true"),
    run("id"),
    run("/usr/bin/env"),
    run("mount"),
    run("runc", "--version"),
    run("nsenter", "--version"),
    run("unshare", "--version"),
    { do: "run", cmd: "/usr/lib/cni/loopback", env: { CNI_COMMAND: "VERSION" } },
    // Deno.kill needs an unscoped --allow-run: the agent signals through libc instead.
    { do: "kill", pid: 1 },
  ]);
  assertEquals(got, [
    "NotCapable",
    "NotCapable",
    "NotCapable",
    "NotCapable",
    "NotCapable",
    "ok",
    "ok",
    "ok",
    "ok",
    "NotCapable",
  ]);
});

Deno.test("deploy: the agent's computed set reads only the environment variables it uses", async () => {
  const got = await probe(AGENT, [
    { do: "env", name: "PATH" },
    { do: "env", name: "NOTIFY_SOCKET" },
    { do: "env", name: "SAUROPOD_PROBE_SECRET" },
    { do: "env", name: "AWS_SECRET_ACCESS_KEY" },
    { do: "sys", what: "hostname" },
    { do: "sys", what: "osRelease" },
  ]);
  assertEquals(got, ["ok", "ok", "NotCapable", "NotCapable", "ok", "NotCapable"]);
});

Deno.test("deploy: the agent's computed set opens /proc only through kernfs, and only what it uses", async () => {
  const got = await probe(AGENT, [
    { do: "read", path: "/proc/self/status" },
    { do: "kernfs-read", path: "/proc/self/status" },
    { do: "kernfs-read", path: "/proc/self/mountinfo" },
    { do: "kernfs-read", path: "/proc/self/environ" },
    { do: "kernfs-read", path: "/proc/1/root/etc/hostname" },
    { do: "read", path: "/sys/fs/cgroup/cgroup.procs" },
  ]);
  assertEquals(got, ["NotCapable", "ok", "ok", "NotCapable", "NotCapable", "NotCapable"]);
});

Deno.test("deploy: deno.json's launcher set (-P=agent) writes, runs and reads env nothing", async () => {
  const got = await probe("agent", [
    write(`/tmp/${tag}`),
    mayWrite(`/var/lib/sauropod/${tag}`),
    run("runc", "--version"),
    run(Deno.execPath(), "--version"),
    { do: "read", path: "/etc/hostname" },
    { do: "env", name: "PATH" },
    { do: "env", name: "SAUROPOD_PROBE_SECRET" },
    { do: "sys", what: "hostname" },
    { do: "kernfs-read", path: "/proc/self/cmdline" },
  ]);
  assertEquals(got, [
    "NotCapable",
    "prompt",
    "NotCapable",
    "NotCapable",
    "ok",
    "ok",
    "NotCapable",
    "NotCapable",
    "ok",
  ]);
});

/** The permission flags a running shim was started with, read from its command line. */
async function shimFlags(stateRoot: string): Promise<{ pid: number; flags: string[] }[]> {
  const out = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let argv: string[];
    try {
      argv = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0");
    } catch {
      continue; // gone
    }
    const i = argv.indexOf("--state-dir");
    if (argv.includes("shim") && i > 0 && argv[i + 1]?.startsWith(`${stateRoot}/`)) {
      out.push({ pid: Number(e.name), flags: argv.filter((a) => /^(-A|--allow-[a-z]+)/.test(a)) });
    }
  }
  return out;
}

Deno.test("deploy: a running shim's own flags let it run only the OCI runtime, in its own dirs", async () => {
  await using env = await e2eEnv();
  const { agent, client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "perms");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("sleeper", images.busybox.ref, ["sleep", "600"]),
    pod,
  );

  const shims = await shimFlags(`${agent.state}/shims`);
  const mine = shims.find((s) => s.flags.some((f) => f.includes(id)));
  assert(mine, `no shim for ${id} among ${JSON.stringify(shims)}`);
  assert(!mine.flags.some((f) => f === "-A" || f === "--allow-all"), mine.flags.join(" "));
  const run = mine.flags.find((f) => f.startsWith("--allow-run="));
  assert(run && /^--allow-run=\/\S*\/runc$/.test(run), `runs more than runc: ${run}`);
  const runc = run.slice("--allow-run=".length);

  // The same flags, given to the probe: what that shim may and may not do.
  const got = await probe(mine.flags, [
    { do: "run", cmd: runc, args: ["--version"] },
    { do: "run", cmd: "/bin/sh", args: ["-c", "true"] },
    { do: "run", cmd: Deno.execPath(), args: ["--version"] },
    { do: "write", path: `${agent.root}/${tag}` },
    { do: "write", path: `/etc/${tag}` },
    { do: "query", desc: { name: "write", path: `${agent.state}/shims/${id}/x` } },
    { do: "read", path: "/etc/hostname" },
    { do: "read", path: `${agent.root}/sauropod.db` },
    { do: "env", name: "PATH" },
    { do: "kernfs-read", path: "/proc/self/status" },
    { do: "kernfs-read", path: "/proc/self/environ" },
  ]);
  assertEquals(got, [
    "ok",
    "NotCapable",
    "NotCapable",
    "NotCapable",
    "NotCapable",
    "granted",
    "NotCapable",
    "NotCapable",
    "NotCapable",
    "ok",
    "NotCapable",
  ]);
});

Deno.test("deploy: the agent started as installed (-P=agent) runs under its computed flags and serves a pod lifecycle", async () => {
  await using env = await e2eEnv();
  const { agent, client, images, logRoot } = env;
  // Its own command line: execve'd from the launcher, the same pid, flags from the config.
  const argv = (await Deno.readTextFile(`/proc/${agent.pid}/cmdline`)).split("\0");
  assert(argv.includes("--permissions-from-config"), argv.join(" "));
  assert(!argv.some((a) => /^(-A|--allow-all|-P(=.*)?)$/.test(a)), argv.join(" "));
  const writes = argv.find((a) => a.startsWith("--allow-write="))!.slice(14).split(",");
  for (const dir of [agent.root, agent.state, `${agent.dir}/pod-logs`, "/tmp"]) {
    assert(writes.includes(dir), `${dir} not in ${writes}`);
  }
  assert(!writes.includes("/var/lib/sauropod") && !writes.includes("/run/sauropod"));

  await client.image.pullImage({ image: { image: images.busybox.ref } });
  // crictl's examples log under /tmp: allowed because the config lists /tmp.
  const tmpLogs = await Deno.makeTempDir({ prefix: "sauropod-crictl-logs-" });
  try {
    const pod = podConfig(logRoot, "installed", { logDirectory: tmpLogs });
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const id = await runContainer(
      client,
      podId,
      containerConfig("hello", images.busybox.ref, ["sh", "-c", "echo hello from $(hostname)"]),
      pod,
    );
    await eventually("the container exits", async () => {
      const st = (await client.runtime.containerStatus({ containerId: id })).status;
      return st?.finishedAt ? st : undefined;
    });
    const lines = wholeLines(await readCriLog(`${tmpLogs}/hello/0.log`));
    assertEquals(lines, ["hello from installed"]);
    await client.runtime.removeContainer({ containerId: id });
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals((await client.runtime.listPodSandbox({})).items, []);
    assert(!agent.logs.some((l) => l.includes("NotCapable")), agent.tail());
  } finally {
    await Deno.remove(tmpLogs, { recursive: true }).catch(() => {});
  }
});

Deno.test("deploy: a log_directory outside runtime.pod_log_roots is refused at RunPodSandbox, naming the key", async () => {
  await using env = await e2eEnv({ podLogRoots: [] });
  const { agent, client } = env;
  const logRoot = `${agent.dir}/pod-logs`;
  // The agent's default pod_logs_dir must lie under a root: this agent has it as its only one.
  const outside = await Deno.makeTempDir({ prefix: "sauropod-outside-logs-" });
  await Deno.symlink("/etc", `${logRoot}/evil`);
  try {
    const refused = async (logDirectory: string, expect: string) => {
      const err = await client.runtime.runPodSandbox({
        config: podConfig(logRoot, "refused", { logDirectory }),
      }).then(() => undefined, (e: unknown) => e);
      assert(err instanceof CriError, `RunPodSandbox with ${logDirectory} was not refused`);
      assertEquals(err.code, grpc.status.INVALID_ARGUMENT, err.message);
      assertStringIncludes(err.details, expect);
      assert(!err.details.includes("--allow-write"), err.details);
    };
    await refused(`${outside}/pod`, "runtime.pod_log_roots");
    await refused(`${outside}/pod`, `is outside the directories pods may log under`);
    await refused(`${logRoot}/../escape`, `must not contain ".."`);
    await refused(`${logRoot}/evil/pods`, "goes through a symlink");
    // Nothing of the refused pods exists: no record, no directory.
    assertEquals((await client.runtime.listPodSandbox({})).items, []);
    assertEquals([...Deno.readDirSync(outside)], []);
    // A log directory beneath the root is served.
    const pod = podConfig(logRoot, "allowed");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    await client.runtime.removePodSandbox({ podSandboxId: podId });
  } finally {
    await Deno.remove(outside, { recursive: true }).catch(() => {});
  }
});
