/**
 * Feeds a built spec to the real `runc run` and checks, from inside the container, that
 * runc did what the spec says: identity, capabilities, seccomp, read-only rootfs, masked
 * and read-only paths, env, cwd, mounts, devices, sysctls, cgroup and oom_score_adj.
 *
 * Needs root, runc, busybox-static and util-linux's unshare; everything it creates (temp
 * dir, namespaces holder process, runc state, cgroups) is removed in `finally`.
 */
import { MountPropagation, SecurityProfile_ProfileType as ProfileType } from "../api/gen/api.ts";
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { KNOWN_CAPABILITIES } from "./capabilities.ts";
import { buildContainerSpec } from "./container.ts";
import { buildSandboxSpec } from "./sandbox.ts";
import type { Spec } from "./spec.ts";
import type { HostPathFacts } from "./host.ts";
import {
  containerConfig,
  containerInputs,
  kv,
  sandboxConfig,
  sandboxInputs,
} from "./_test_fixtures.ts";

function onPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const RUNC = onPath("runc");
const BUSYBOX = onPath("busybox");
const UNSHARE = onPath("unshare");
const CATATONIT = onPath("catatonit");
const skip = Deno.uid() !== 0
  ? "needs root"
  : !RUNC
  ? "needs runc"
  : !BUSYBOX
  ? "needs busybox (Debian's busybox-static)"
  : !UNSHARE
  ? "needs unshare (util-linux)"
  : undefined;

const skipSandbox = skip ?? (CATATONIT ? undefined : "needs catatonit");

/** The kubelet's default lists (procMount: Default), as it sends them. */
const KUBELET_MASKED = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
];
const KUBELET_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** A busybox root filesystem with applets as hard links and an `app` user. */
async function makeRootfs(rootfs: string): Promise<void> {
  await Deno.mkdir(`${rootfs}/bin`, { recursive: true });
  await Deno.copyFile(BUSYBOX!, `${rootfs}/bin/busybox`);
  await Deno.chmod(`${rootfs}/bin/busybox`, 0o755);
  const list = await new Deno.Command(BUSYBOX!, { args: ["--list-full"], stderr: "null" }).output();
  for (const applet of new TextDecoder().decode(list.stdout).split("\n").filter(Boolean)) {
    const dest = `${rootfs}/${applet}`;
    await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    if (dest === `${rootfs}/bin/busybox`) continue;
    // Hard links, not symlinks: a masked path is a bind of /dev/null over a file, and with
    // symlinks an applet path could resolve to busybox itself.
    await Deno.link(`${rootfs}/bin/busybox`, dest);
  }
  await Deno.mkdir(`${rootfs}/etc`);
  await Deno.writeTextFile(
    `${rootfs}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
  );
  await Deno.writeTextFile(
    `${rootfs}/etc/group`,
    "root:x:0:\napp:x:1000:\nextra:x:2000:app\nvideo:x:44:app\n",
  );
  await Deno.mkdir(`${rootfs}/home/app`, { recursive: true });
  await Deno.chown(`${rootfs}/home/app`, 1000, 1000);
}

/** major/minor of a `st_rdev` as glibc's gnu_dev_major/minor decode it. */
function devNumbers(rdev: number): { major: number; minor: number } {
  const r = BigInt(rdev);
  return {
    major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)),
    minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)),
  };
}

function nsOf(pid: number | "self", type: string): string {
  return Deno.readLinkSync(`/proc/${pid}/ns/${type}`);
}

async function removeCgroups(name: string): Promise<void> {
  for await (const e of Deno.readDir("/sys/fs/cgroup")) {
    if (!e.isDirectory) continue;
    try {
      await Deno.remove(`/sys/fs/cgroup/${e.name}/${name}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}

/** What `runc run` printed, and a description of the run for failure messages. */
interface RunResult {
  code: number;
  out: string;
  why: string;
}

/**
 * A scratch pod: a temp dir, a process holding new network, IPC and UTS namespaces (the
 * stand-in for the pod's pinned ones), a test-only `runc --root`, and everything run in it.
 * Disposing removes all of it, whatever state the test left.
 */
class ScratchPod implements AsyncDisposable {
  readonly runcRoot: string;
  readonly #containers: string[] = [];
  #holder: Deno.ChildProcess | undefined;

  private constructor(readonly dir: string) {
    this.runcRoot = `${dir}/runc`;
  }

  static async create(): Promise<ScratchPod> {
    const pod = new ScratchPod(await Deno.makeTempDir({ prefix: "sauropod-oci-" }));
    try {
      pod.#holder = new Deno.Command(UNSHARE!, {
        args: ["--net", "--ipc", "--uts", "--", "sleep", "600"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const pid = pod.#holder.pid;
      for (let i = 0; i < 500 && nsOf(pid, "net") === nsOf("self", "net"); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert(nsOf(pid, "net") !== nsOf("self", "net"), "unshare made no network namespace");
      return pod;
    } catch (err) {
      await pod[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** The pod's namespace of `type` (`net`, `ipc`, `uts`) as a joinable path. */
  ns(type: string): string {
    return `/proc/${this.#holder!.pid}/ns/${type}`;
  }

  /** Writes `spec` into a bundle and runs it: to completion, or detached (`-d`). */
  async run(id: string, bundle: string, spec: Spec, detach = false): Promise<RunResult> {
    await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec, null, 2));
    this.#containers.push(id);
    const log = `${this.dir}/${id}.log`;
    const run = await new Deno.Command(RUNC!, {
      args: [
        ...["--root", this.runcRoot, "--log", log, "--log-format", "json", "run"],
        ...(detach ? ["-d"] : []),
        ...["--bundle", bundle, id],
      ],
      stdin: "null",
      // A detached container inherits runc's stdio: a pipe would never reach EOF.
      stdout: detach ? "null" : "piped",
      stderr: detach ? "null" : "piped",
    }).output();
    const out = detach ? "" : new TextDecoder().decode(run.stdout);
    const err = detach ? "" : new TextDecoder().decode(run.stderr);
    const why =
      `runc run ${id}: exit ${run.code}\nstdout:\n${out}\nstderr:\n${err}\nlog:\n${await Deno
        .readTextFile(log).catch(() => "")}`;
    return { code: run.code, out, why };
  }

  /** The host pid of a running container's init. */
  async pid(id: string): Promise<number> {
    const state = await new Deno.Command(RUNC!, {
      args: ["--root", this.runcRoot, "state", id],
      stderr: "null",
    }).output();
    assertEquals(state.code, 0, `runc state ${id}`);
    return JSON.parse(new TextDecoder().decode(state.stdout)).pid;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const id of this.#containers.reverse()) {
      await new Deno.Command(RUNC!, {
        args: ["--root", this.runcRoot, "delete", "--force", id],
        stdout: "null",
        stderr: "null",
      }).output();
      await removeCgroups(id);
    }
    if (this.#holder) {
      try {
        this.#holder.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.#holder.status;
    }
    await Deno.remove(this.dir, { recursive: true });
  }
}

/**
 * Waits (at most 10 s) until process `pid` has exec'd `argv`: its cmdline reads exactly
 * that. Fails with what it read last.
 */
async function execDone(pid: number, argv: string[], why: string): Promise<void> {
  const want = argv.map((a) => `${a}\0`).join("");
  const until = Date.now() + 10_000;
  let got = "";
  for (let delay = 1; Date.now() < until; delay = Math.min(delay * 2, 50)) {
    got = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (got === want) return;
    await new Promise((r) => setTimeout(r, delay));
  }
  assertEquals(got.split("\0").filter(Boolean), argv, `pid ${pid} never exec'd ${argv}\n${why}`);
}

/** `Key=value` / `Key:value` lines (a script's echoes, /proc/<pid>/status) as a map. */
function keyValues(text: string): Map<string, string> {
  const got = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = line.match(/^(\w+)[=:]\s*(.*)$/);
    if (m) got.set(m[1]!, m[2]!);
  }
  return got;
}

Deno.test({
  name: "a built container spec runs under real runc with every setting in effect",
  ignore: skip !== undefined,
  async fn() {
    await using pod = await ScratchPod.create();
    const tmp = pod.dir;
    const id = `sauropod-oci-${crypto.randomUUID().slice(0, 8)}`;
    const bundle = `${tmp}/bundle`;
    await makeRootfs(`${bundle}/rootfs`);
    await Deno.mkdir(`${tmp}/ro`);
    await Deno.writeTextFile(`${tmp}/ro/hello`, "hello from the host\n");
    await Deno.mkdir(`${tmp}/rw`);
    await Deno.chown(`${tmp}/rw`, 1000, 1000);
    await Deno.mkdir(`${tmp}/pod`);
    await Deno.writeTextFile(`${tmp}/pod/hosts`, "127.0.0.1 localhost oci-test\n");
    await Deno.writeTextFile(`${tmp}/pod/hostname`, "oci-test\n");
    await Deno.writeTextFile(`${tmp}/pod/resolv.conf`, "nameserver 127.0.0.53\n");

    const zero = Deno.statSync("/dev/zero");
    const hostPaths: Record<string, HostPathFacts> = {
      [`${tmp}/ro`]: { kind: "directory", realPath: await Deno.realPath(`${tmp}/ro`) },
      [`${tmp}/rw`]: { kind: "directory", realPath: await Deno.realPath(`${tmp}/rw`) },
      "/dev/zero": {
        kind: "device",
        realPath: "/dev/zero",
        device: {
          type: "c",
          ...devNumbers(zero.rdev!),
          fileMode: zero.mode! & 0o7777,
          uid: zero.uid!,
          gid: zero.gid!,
        },
      },
    };
    const agentScore = Number((await Deno.readTextFile("/proc/self/oom_score_adj")).trim());
    const script = [
      "echo pid=$$",
      "echo uid=$(id -u)",
      "echo gid=$(id -g)",
      "echo groups=$(id -G)",
      "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status",
      "echo cwd=$(pwd)",
      'echo "foo=$FOO"',
      "echo host=$HOSTNAME",
      "if touch /home/app/x 2>/dev/null; then echo rootfs=rw; else echo rootfs=ro; fi",
      "if cat /proc/timer_list >/dev/null 2>&1; then echo timer_list=readable; fi",
      "grep -c ' /proc/timer_list ' /proc/self/mountinfo | sed 's/^/masked_mounts=/'",
      "grep ' /proc/sys ' /proc/self/mountinfo | cut -d' ' -f6 | sed 's/^/proc_sys=/'",
      "echo ro_read=$(cat /ro/hello)",
      "grep ' /ro ' /proc/self/mountinfo | cut -d' ' -f6 | sed 's/^/ro_opts=/'",
      "if touch /ro/new 2>/dev/null; then echo ro_write=ok; else echo ro_write=refused; fi",
      "if echo hi > /rw/out; then echo rw_write=ok; fi",
      "echo zero=$(head -c 4 /dev/zero2 | wc -c)",
      "echo oom=$(cat /proc/self/oom_score_adj)",
      "echo port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)",
      "echo hosts=$(cat /etc/hosts)",
      `grep -q '${id}' /proc/self/cgroup && echo cgroup=own`,
    ].join("\n");

    const spec = buildContainerSpec(containerInputs({
      containerId: id,
      rootfsPath: `${bundle}/rootfs`,
      cgroupsPath: `/${id}`,
      hostname: "oci-test",
      namespaces: { network: pod.ns("net"), ipc: pod.ns("ipc"), uts: pod.ns("uts"), pid: "new" },
      podMounts: {
        hosts: `${tmp}/pod/hosts`,
        hostname: `${tmp}/pod/hostname`,
        resolvConf: `${tmp}/pod/resolv.conf`,
      },
      hostPaths,
      passwd: await Deno.readTextFile(`${bundle}/rootfs/etc/passwd`),
      group: await Deno.readTextFile(`${bundle}/rootfs/etc/group`),
      oomScoreAdj: { restrict: true, agentScore },
      sandboxConfig: sandboxConfig({
        linux: { sysctls: { "net.ipv4.ip_unprivileged_port_start": "0" } },
      }),
      config: containerConfig({
        command: ["/bin/sh", "-c", script],
        workingDir: "/home/app",
        envs: [kv("FOO", "bar baz")],
        mounts: [
          { containerPath: "/ro", hostPath: `${tmp}/ro`, readonly: true },
          {
            containerPath: "/rw",
            hostPath: `${tmp}/rw`,
            propagation: MountPropagation.PROPAGATION_PRIVATE,
          },
        ],
        devices: [{ hostPath: "/dev/zero", containerPath: "/dev/zero2", permissions: "r" }],
        linux: {
          resources: { oomScoreAdj: -998n, cpuShares: 512n },
          securityContext: {
            runAsUsername: "app",
            supplementalGroups: [3000n],
            readonlyRootfs: true,
            noNewPrivs: true,
            capabilities: { addCapabilities: ["SYS_TIME"], dropCapabilities: ["net_raw"] },
            seccomp: { profileType: ProfileType.RuntimeDefault },
            maskedPaths: KUBELET_MASKED,
            readonlyPaths: KUBELET_READONLY,
          },
        },
      }),
    }));

    const { code, out, why } = await pod.run(id, bundle, spec);
    assertEquals(code, 0, why);
    const got = keyValues(out);
    const bounding = spec.process!.capabilities!.bounding!;
    assert(bounding.includes("CAP_SYS_TIME") && !bounding.includes("CAP_NET_RAW"));
    assertEquals(got.get("pid"), "1", why);
    assertEquals(got.get("uid"), "1000", why);
    assertEquals(got.get("gid"), "1000", why);
    assertEquals(
      got.get("groups")?.split(" ").map(Number).sort((a, b) => a - b),
      [44, 1000, 2000, 3000],
      why,
    );
    assertEquals(BigInt("0x" + got.get("CapBnd")), capabilityMask(bounding), why);
    assertEquals(got.get("CapEff"), "0000000000000000", why);
    assertEquals(got.get("NoNewPrivs"), "1", why);
    assertEquals(got.get("Seccomp"), "2", why);
    assertEquals(got.get("cwd"), "/home/app", why);
    assertEquals(got.get("foo"), "bar baz", why);
    assertEquals(got.get("host"), "oci-test", why);
    assertEquals(got.get("rootfs"), "ro", why);
    // /proc/timer_list is root-only: uid 1000 reads it only as the masking /dev/null.
    assertEquals(got.get("timer_list"), "readable", why);
    assertEquals(got.get("masked_mounts"), "1", why);
    assert((got.get("proc_sys") ?? "").split(",").includes("ro"), why);
    assertEquals(got.get("ro_read"), "hello from the host", why);
    assert((got.get("ro_opts") ?? "").split(",").includes("ro"), why);
    assertEquals(got.get("ro_write"), "refused", why);
    assertEquals(got.get("rw_write"), "ok", why);
    assertEquals(await Deno.readTextFile(`${tmp}/rw/out`), "hi\n");
    assertEquals(got.get("zero"), "4", why);
    assertEquals(got.get("oom"), String(Math.max(-998, agentScore)), why);
    assertEquals(got.get("port_start"), "0", why);
    assertEquals(got.get("hosts"), "127.0.0.1 localhost oci-test", why);
    assertEquals(got.get("cgroup"), "own", why);
  },
});

Deno.test({
  name: "a built sandbox spec runs catatonit as PID 1 that a container's PID namespace joins",
  ignore: skipSandbox !== undefined,
  async fn() {
    await using pod = await ScratchPod.create();
    const suffix = crypto.randomUUID().slice(0, 8);
    const sandboxId = `sauropod-oci-sb-${suffix}`;
    const sandboxBundle = `${pod.dir}/sandbox`;
    await Deno.mkdir(`${sandboxBundle}/rootfs/usr/bin`, { recursive: true });
    await Deno.copyFile(CATATONIT!, `${sandboxBundle}/rootfs/usr/bin/catatonit`);
    await Deno.chmod(`${sandboxBundle}/rootfs/usr/bin/catatonit`, 0o755);
    const agentScore = Number((await Deno.readTextFile("/proc/self/oom_score_adj")).trim());
    const sandbox = buildSandboxSpec(sandboxInputs({
      sandboxId,
      rootfsPath: `${sandboxBundle}/rootfs`,
      cgroupsPath: `/${sandboxId}`,
      namespaces: { network: pod.ns("net"), ipc: pod.ns("ipc"), uts: pod.ns("uts") },
      podMounts: {},
      image: {
        user: "",
        env: [],
        entrypoint: ["/usr/bin/catatonit", "-P"],
        cmd: [],
        workingDir: "",
      },
      oomScoreAdj: { restrict: true, agentScore },
      config: sandboxConfig({
        linux: { securityContext: { seccomp: { profileType: ProfileType.RuntimeDefault } } },
      }),
    }));
    const started = await pod.run(sandboxId, sandboxBundle, sandbox, true);
    assertEquals(started.code, 0, started.why);
    const init = await pod.pid(sandboxId);
    // `runc run -d` returns once the init is released to exec, not once it has: on a busy
    // machine PID 1 was still `runc init` (or mid-execve, its cmdline empty) when the
    // checks below read it. Wait for the exec itself; the checks stay as strict.
    await execDone(init, ["/usr/bin/catatonit", "-P"], started.why);

    const status = keyValues(await Deno.readTextFile(`/proc/${init}/status`));
    assertEquals(status.get("CapBnd"), "0000000000000000");
    assertEquals(status.get("CapEff"), "0000000000000000");
    assertEquals(status.get("NoNewPrivs"), "1");
    assertEquals(status.get("Seccomp"), "2");
    assertEquals(
      (await Deno.readTextFile(`/proc/${init}/oom_score_adj`)).trim(),
      String(Math.max(-998, agentScore)),
    );
    assertEquals(Deno.readLinkSync(`/proc/${init}/ns/net`), Deno.readLinkSync(pod.ns("net")));
    assertStringIncludes(await Deno.readTextFile(`/proc/${init}/cgroup`), sandboxId);

    const ctrId = `sauropod-oci-ctr-${suffix}`;
    const bundle = `${pod.dir}/ctr`;
    await makeRootfs(`${bundle}/rootfs`);
    const ctr = buildContainerSpec(containerInputs({
      containerId: ctrId,
      rootfsPath: `${bundle}/rootfs`,
      cgroupsPath: `/${ctrId}`,
      namespaces: {
        network: pod.ns("net"),
        ipc: pod.ns("ipc"),
        uts: pod.ns("uts"),
        pid: `/proc/${init}/ns/pid`,
      },
      podMounts: {},
      config: containerConfig({
        command: ["/bin/sh", "-c", "echo init=$(tr '\\0' ' ' < /proc/1/cmdline); echo me=$$"],
      }),
    }));
    const { code, out, why } = await pod.run(ctrId, bundle, ctr);
    assertEquals(code, 0, why);
    const got = keyValues(out);
    assertEquals(got.get("init")?.trim(), "/usr/bin/catatonit -P", why);
    assert(Number(got.get("me")) > 1, why);
  },
});

function capabilityMask(names: readonly string[]): bigint {
  return names.reduce((m, c) => m | (1n << BigInt(KNOWN_CAPABILITIES.indexOf(c))), 0n);
}
