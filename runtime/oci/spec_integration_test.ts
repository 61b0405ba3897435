/**
 * Feeds a built spec to the real `runc run` and checks, from inside the container, that
 * runc did what the spec says: identity, capabilities, seccomp, read-only rootfs, masked
 * and read-only paths, env, cwd, mounts, devices, sysctls, cgroup and oom_score_adj.
 *
 * Needs root, runc, busybox-static and util-linux's unshare; everything it creates (temp
 * dir, namespaces holder process, runc state, cgroups) is removed in `finally`.
 */
import { MountPropagation, SecurityProfile_ProfileType as ProfileType } from "../../cri/gen/api.ts";
import { assert, assertEquals, assertStringIncludes } from "../../testing/assert.ts";
import { KNOWN_CAPABILITIES } from "./capabilities.ts";
import { buildContainerSpec } from "./container.ts";
import type { HostPathFacts } from "./host.ts";
import { containerConfig, containerInputs, kv, sandboxConfig } from "./_test_fixtures.ts";

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
const skip = Deno.uid() !== 0
  ? "needs root"
  : !RUNC
  ? "needs runc"
  : !BUSYBOX
  ? "needs busybox (Debian's busybox-static)"
  : !UNSHARE
  ? "needs unshare (util-linux)"
  : undefined;

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

Deno.test({
  name: "a built container spec runs under real runc with every setting in effect",
  ignore: skip !== undefined,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "sauropod-oci-" });
    const id = `sauropod-oci-${crypto.randomUUID().slice(0, 8)}`;
    const runcRoot = `${tmp}/runc`;
    let holder: Deno.ChildProcess | undefined;
    try {
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

      // Stand-in for the pod's pinned namespaces: a process that holds new ones.
      holder = new Deno.Command(UNSHARE!, {
        args: ["--net", "--ipc", "--uts", "--", "sleep", "600"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const pid = holder.pid;
      for (let i = 0; i < 500 && nsOf(pid, "net") === nsOf("self", "net"); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert(nsOf(pid, "net") !== nsOf("self", "net"), "unshare did not make a network namespace");

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
        "grep -E '^(CapBnd|CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\\t'",
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
        namespaces: {
          network: `/proc/${pid}/ns/net`,
          ipc: `/proc/${pid}/ns/ipc`,
          uts: `/proc/${pid}/ns/uts`,
          pid: "new",
        },
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
      await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec, null, 2));

      const run = await new Deno.Command(RUNC!, {
        args: [
          "--root",
          runcRoot,
          "--log",
          `${tmp}/runc.log`,
          "--log-format",
          "json",
          "run",
          "--bundle",
          bundle,
          id,
        ],
        stdin: "null",
      }).output();
      const out = new TextDecoder().decode(run.stdout);
      const why = `runc exit ${run.code}\nstdout:\n${out}\nstderr:\n${
        new TextDecoder().decode(run.stderr)
      }\nlog:\n${await Deno.readTextFile(`${tmp}/runc.log`).catch(() => "")}`;
      assertEquals(run.code, 0, why);

      // One `key=value` (or `Key:value` from /proc/self/status) per line.
      const got = new Map<string, string>();
      for (const line of out.split("\n")) {
        const m = line.match(/^(\w+)[=:](.*)$/);
        if (m) got.set(m[1]!, m[2]!);
      }
      const expectBounding = spec.process!.capabilities!.bounding!;
      const mask = expectBounding.reduce(
        (m, c) => m | (1n << BigInt(KNOWN_CAPABILITIES.indexOf(c))),
        0n,
      );
      assertEquals(got.get("pid"), "1", why);
      assertEquals(got.get("uid"), "1000", why);
      assertEquals(got.get("gid"), "1000", why);
      assertEquals(
        got.get("groups")?.split(" ").map(Number).sort((a, b) => a - b),
        [44, 1000, 2000, 3000],
        why,
      );
      assertEquals(BigInt("0x" + got.get("CapBnd")), mask, why);
      assert(expectBounding.includes("CAP_SYS_TIME") && !expectBounding.includes("CAP_NET_RAW"));
      assertEquals(got.get("CapEff"), "0000000000000000", why);
      assertEquals(got.get("NoNewPrivs"), "1", why);
      assertEquals(got.get("Seccomp"), "2", why);
      assertEquals(got.get("cwd"), "/home/app", why);
      assertEquals(got.get("foo"), "bar baz", why);
      assertEquals(got.get("host"), "oci-test", why);
      assertEquals(got.get("rootfs"), "ro", why);
      assertEquals(got.get("timer_list"), "readable", why);
      assertEquals(got.get("masked_mounts"), "1", why);
      assertStringIncludes(got.get("proc_sys") ?? "", "ro");
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
    } finally {
      await new Deno.Command(RUNC ?? "runc", {
        args: ["--root", runcRoot, "delete", "--force", id],
        stdout: "null",
        stderr: "null",
      }).output().catch(() => undefined);
      if (holder) {
        try {
          holder.kill("SIGKILL");
        } catch {
          // already gone
        }
        await holder.status;
      }
      await removeCgroups(id);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
