/**
 * The host boundary: what other local users can reach of pods and containers (nothing), the
 * tightening of an older agent's modes, records in creation out of every lookup, and pod
 * names that could steer CNI_ARGS refused before anything is made.
 *
 * "Another local user" is `nobody`, through util-linux's `setpriv`.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { ContainerState, NamespaceMode, PodSandboxState } from "../api/gen/api.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import type { TestAgent } from "./harness/agent.ts";
import { e2eEnv, sandboxConfig } from "./harness/env.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  readCriLog,
  runContainer,
  wholeLines,
} from "./harness/pods.ts";
import { SETUID_BUSYBOX } from "./fixtures/images.ts";

const dec = new TextDecoder();
const SECRET = `s3cr3t-${crypto.randomUUID()}`;

/** Runs `args` as nobody:nogroup with no supplementary groups. */
async function asNobody(
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command("setpriv", {
    // Through a shell: setpriv resolves the path it executes while it still holds root's
    // capabilities (it keeps them across its uid change until the exec), so a program it
    // starts directly is found even under a 0700 directory. The shell resolves as nobody.
    args: [
      "--reuid=nobody",
      "--regid=nogroup",
      "--clear-groups",
      "--",
      "/bin/sh",
      "-c",
      'exec "$@"',
      "sh",
      ...args,
    ],
    cwd: "/",
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const r = await child.output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Mount points, from the kernel's table. */
async function mountPoints(): Promise<Set<string>> {
  return new Set(
    (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " ")).filter(Boolean),
  );
}

/**
 * Every path under `dir` as root sees it, not descending into mounts (a container's rootfs,
 * a pod's shm, pinned namespaces) nor into the image store (its own 0700 tree).
 */
async function tree(dir: string, mounts: Set<string>, out: string[] = []): Promise<string[]> {
  out.push(dir);
  const st = await Deno.lstat(dir);
  if (!st.isDirectory || mounts.has(dir) || /\/(images|snapshots)$/.test(dir)) return out;
  for await (const e of Deno.readDir(dir)) await tree(`${dir}/${e.name}`, mounts, out);
  return out;
}

/** Of `paths`, those nobody can use: a directory it may traverse, a file it may open. */
async function reachableByNobody(paths: string[]): Promise<string[]> {
  const script = `while IFS= read -r p; do
    if [ -d "$p" ]; then [ -x "$p" ] && echo "$p"
    elif [ -r "$p" ] || [ -w "$p" ] || [ -x "$p" ]; then echo "$p"; fi
  done`;
  const r = await asNobody(["/bin/sh", "-c", script], paths.join("\n") + "\n");
  assertEquals(r.code, 0, r.err);
  return r.out.split("\n").filter(Boolean);
}

async function modeOf(path: string): Promise<string> {
  return ((await Deno.lstat(path)).mode! & 0o7777).toString(8);
}

Deno.test("boundary: other local users reach nothing of pods and containers", async (t) => {
  await using env = await e2eEnv();
  const { agent, client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.setuid.ref } });
  // One PID namespace for the pod: it gets a pause container, whose bundle is checked too.
  const pod = podConfig(logRoot, "boundary", {
    linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
  });
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("sleeper", images.setuid.ref, ["sleep", "600"], {
      envs: [{ key: "DB_PASSWORD", value: new TextEncoder().encode(SECRET) }],
    }),
    pod,
  );
  const bundle = `${agent.root}/containers/${id}`;
  const rootfs = `${bundle}/rootfs`;
  const shm = `${agent.state}/sandboxes/${podId}/shm`;

  await t.step(
    "what root sees: the secret in config.json, a setuid-root binary, a 1777 shm",
    async () => {
      assertStringIncludes(await Deno.readTextFile(`${bundle}/config.json`), SECRET);
      const suid = await Deno.stat(`${rootfs}${SETUID_BUSYBOX}`);
      assertEquals([suid.uid, (suid.mode! & 0o7777).toString(8)], [0, "4755"]);
      assertEquals(await modeOf(shm), "1777");
    },
  );

  await t.step(
    "nobody cannot read config.json, list the rootfs, run its setuid binary, touch shm",
    async () => {
      const cat = await asNobody(["cat", `${bundle}/config.json`]);
      assert(cat.code !== 0 && !cat.out.includes(SECRET), `config.json was read: ${cat.out}`);
      assertStringIncludes(cat.err, "Permission denied");
      const ls = await asNobody(["ls", rootfs]);
      assert(ls.code !== 0 && ls.out === "", `rootfs was listed: ${ls.out}`);
      assertStringIncludes(ls.err, "Permission denied");
      // Executing it at all is the escalation: the kernel starts it with euid 0.
      const suid = await asNobody([`${rootfs}${SETUID_BUSYBOX}`, "id", "-u"]);
      assert(suid.code !== 0 && suid.out === "", `the setuid binary ran: ${suid.out}`);
      assertStringIncludes(suid.err, "Permission denied");
      const touch = await asNobody(["touch", `${shm}/from-the-host`]);
      assert(touch.code !== 0, "shm was written");
      assertStringIncludes(touch.err, "Permission denied");
      assertEquals(await Deno.stat(`${shm}/from-the-host`).then(() => true, () => false), false);
    },
  );

  await t.step(
    "nothing under root or state is open to nobody but the directories themselves",
    async () => {
      const paths = [
        ...await tree(agent.root, await mountPoints()),
        ...await tree(agent.state, await mountPoints()),
      ];
      assert(paths.includes(`${bundle}/config.json`), "the walk saw the bundle");
      assert(paths.includes(`${agent.root}/sandboxes/${podId}/hosts`), "the walk saw the pod");
      assert(
        paths.includes(`${agent.root}/sandboxes/${podId}/bundle/config.json`),
        "the walk saw the pause container's bundle",
      );
      // shim.js is the shim's code, bundled from this repository: nothing of a pod's.
      assertEquals(
        (await reachableByNobody(paths)).sort(),
        [
          agent.root,
          agent.state,
          `${agent.state}/shim.js`,
        ].sort(),
      );
    },
  );

  await t.step(
    "a setuid binary still works inside its container, and so does /dev/shm",
    async () => {
      const user = await runContainer(
        client,
        podId,
        containerConfig("setuid", images.setuid.ref, [
          "sh",
          "-c",
          // Shell builtins only, but for the setuid binary: see SETUID_BUSYBOX.
          `while read -r k v rest; do [ "$k" = Uid: ] && echo "uid $v"; done </proc/self/status; ` +
          `${SETUID_BUSYBOX} id -u; echo x >/dev/shm/ok && echo shm-ok`,
        ], { linux: { securityContext: { runAsUser: { value: 65534 } } } }),
        pod,
      );
      const st = await eventually("the setuid container to exit", async () => {
        const s = (await client.runtime.containerStatus({ containerId: user })).status!;
        return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
      });
      const out = wholeLines(await readCriLog(st.logPath), "stdout");
      // Its own uid, then root through the setuid binary (the host mount is not nosuid: runc
      // bind-mounts it into the container keeping its flags).
      assertEquals({ exit: st.exitCode, out }, { exit: 0, out: ["uid 65534", "0", "shm-ok"] });
      await client.runtime.removeContainer({ containerId: user });
    },
  );

  await t.step("an older agent's looser modes are tightened at the next start", async () => {
    client.close(); // a connection open across the agent's stop trips Deno's node:http2
    await agent.stop("SIGTERM");
    // What the agent before the fix left: 0755 directories, 0644 files.
    const loose: [string, number][] = [
      [`${agent.root}/containers`, 0o755],
      [bundle, 0o755],
      [`${bundle}/config.json`, 0o644],
      [`${agent.root}/sandboxes`, 0o755],
      [`${agent.root}/sandboxes/${podId}`, 0o755],
      [`${agent.root}/sandboxes/${podId}/bundle`, 0o755],
      [`${agent.root}/sandboxes/${podId}/bundle/config.json`, 0o644],
      [`${agent.state}/sandboxes`, 0o755],
      [`${agent.state}/sandboxes/${podId}`, 0o711],
      [`${agent.state}/shims`, 0o711],
      [`${agent.root}/sauropod.db`, 0o644],
    ];
    for (const [p, m] of loose) await Deno.chmod(p, m);
    const before = await asNobody(["cat", `${bundle}/config.json`]);
    assertStringIncludes(before.out, SECRET, "the loosened tree leaks, as the old one did");

    await agent.launch();
    const after = await asNobody(["cat", `${bundle}/config.json`]);
    assert(after.code !== 0 && !after.out.includes(SECRET), "config.json still readable");
    const modes: Record<string, string> = {};
    for (const [p] of loose) modes[p] = await modeOf(p);
    assertEquals(
      modes,
      Object.fromEntries(
        loose.map(([p]) => [p, p.endsWith(".json") || p.endsWith(".db") ? "600" : "700"]),
      ),
    );
    assertEquals(await modeOf(shm), "1777", "the pod's tmpfs itself is left as it is");
    // The container never noticed.
    const c2 = new CriClient(agent.socket);
    try {
      const s = (await c2.runtime.containerStatus({ containerId: id })).status!;
      assertEquals(s.state, ContainerState.CONTAINER_RUNNING);
      const r = await c2.runtime.execSync({
        containerId: id,
        cmd: ["sh", "-c", "echo $DB_PASSWORD"],
      });
      assertEquals(dec.decode(r.stdout).trim(), SECRET);
      await c2.runtime.removePodSandbox({ podSandboxId: podId });
    } finally {
      c2.close();
    }
    assertEquals(await leftovers(agent), NOTHING);
  });
});

Deno.test("boundary: a pod name, namespace or uid that could steer CNI_ARGS is refused before anything is made", async () => {
  await using env = await e2eEnv();
  const { agent, client, logRoot } = env;
  // A cgroup parent of its own: the agent creates it for a pod it runs (checked below), so
  // its absence after a refusal means no pod cgroup was made.
  const parent = `/sauropod-cniargs-${crypto.randomUUID().slice(0, 8)}`;
  const cgroup = `/sys/fs/cgroup/memory${parent}`;
  const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
  const cases: [Record<string, string>, string][] = [
    [{ name: "x;IP=10.88.0.5" }, "config.metadata.name"],
    [{ name: "a=b" }, "config.metadata.name"],
    [{ name: "Upper_Case" }, "config.metadata.name"],
    [{ namespace: "ns;K8S_POD_NAME=other" }, "config.metadata.namespace"],
    [{ uid: "u;IP=10.88.0.6" }, "config.metadata.uid"],
  ];
  for (const [meta, field] of cases) {
    const pod = podConfig(logRoot, "cniargs", { linux: { cgroupParent: parent } });
    pod.metadata = { ...pod.metadata, ...meta };
    const err = await assertRejects(
      () => client.runtime.runPodSandbox({ config: pod }),
      CriError,
    );
    assertEquals(err.code, grpc.status.INVALID_ARGUMENT, err.message);
    assert(err.details.startsWith(field), `names ${field}: ${err.details}`);
    assertStringIncludes(err.details, "CNI_ARGS");
    assertEquals((await client.runtime.listPodSandbox({})).items, []);
    assertEquals(await exists(cgroup), false, "no pod cgroup");
    assertEquals(await leftovers(agent), NOTHING);
  }
  // The same pod with a kubelet's name runs, and makes what a refusal must not.
  const ok = podConfig(logRoot, "cniargs", { linux: { cgroupParent: parent } });
  const podId = (await client.runtime.runPodSandbox({ config: ok })).podSandboxId;
  assertEquals(await exists(cgroup), true, "the pod's cgroup");
  assert((await leftovers(agent)).nsFiles.length > 0, "the pod's namespaces");
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await exists(cgroup), false);
  assertEquals(await leftovers(agent), NOTHING);
});

/** Waits until the agent holds at `point`; returns the function that releases it. */
async function held(agent: TestAgent, point: string): Promise<() => Promise<void>> {
  const file = `${agent.state}/fault-holds/${point}`;
  await eventually(`the agent to hold at ${point}`, async () => {
    return (await Deno.stat(file).then(() => true, () => false)) || undefined;
  }, 60_000);
  return () => Deno.remove(file).catch(() => {});
}

/** Releases whatever the agent still holds (a failed test must not leave it stuck). */
async function releaseAll(agent: TestAgent): Promise<void> {
  try {
    for await (const e of Deno.readDir(`${agent.state}/fault-holds`)) {
      await Deno.remove(`${agent.state}/fault-holds/${e.name}`).catch(() => {});
    }
  } catch {
    // nothing held
  }
}

async function code(p: Promise<unknown>): Promise<grpc.status | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (err instanceof CriError) return err.code;
    throw err;
  }
}

Deno.test("boundary: RemoveContainer racing CreateContainer neither resurrects it nor leaks its mount", async (t) => {
  const holds = [
    "sandbox-run:after-cni=hold",
    "container-create:after-mount=hold",
    "container-create:after-shim=hold",
  ];
  await using env = await e2eEnv({ config: `[debug]\nfault_points = ${JSON.stringify(holds)}` });
  const { agent, client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "race");
  let podId = "";
  try {
    await t.step(
      "a pod in creation is out of reach: status, stop, remove, create in it",
      async () => {
        const running = client.runtime.runPodSandbox({ config: pod });
        const release = await held(agent, "sandbox-run:after-cni");
        const ids = await Array.fromAsync(Deno.readDir(`${agent.root}/sandboxes`));
        assertEquals(ids.length, 1);
        const id = ids[0]!.name;
        const prefix = id.slice(0, 12);
        assertEquals((await client.runtime.listPodSandbox({})).items, []);
        assertEquals(
          await code(client.runtime.podSandboxStatus({ podSandboxId: prefix })),
          grpc.status.NOT_FOUND,
        );
        assertEquals(
          await code(client.runtime.podSandboxStatus({ podSandboxId: id })),
          grpc.status.NOT_FOUND,
        );
        assertEquals(
          await code(client.runtime.stopPodSandbox({ podSandboxId: prefix })),
          grpc.status.NOT_FOUND,
        );
        assertEquals(
          await code(client.runtime.removePodSandbox({ podSandboxId: prefix })),
          grpc.status.NOT_FOUND,
        );
        // An unknown id is removed (the CRI's idempotence): at once, and it removes nothing.
        assertEquals(await code(client.runtime.removePodSandbox({ podSandboxId: id })), "ok");
        assertEquals(
          await code(client.runtime.createContainer({
            podSandboxId: prefix,
            config: containerConfig("c", images.busybox.ref, ["true"]),
            sandboxConfig: pod,
          })),
          grpc.status.NOT_FOUND,
        );
        await release();
        podId = (await running).podSandboxId;
        assertEquals(podId, id);
        const st = (await client.runtime.podSandboxStatus({ podSandboxId: podId })).status!;
        assertEquals(st.state, PodSandboxState.SANDBOX_READY);
      },
    );

    await t.step(
      "a container in creation is out of reach: remove by prefix or id changes nothing",
      async () => {
        const creating = client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("c", images.busybox.ref, ["sleep", "600"]),
          sandboxConfig: pod,
        });
        let id = "";
        for (const point of ["container-create:after-mount", "container-create:after-shim"]) {
          const release = await held(agent, point);
          const ids = await Array.fromAsync(Deno.readDir(`${agent.root}/containers`));
          assertEquals(ids.length, 1);
          id = ids[0]!.name;
          const prefix = id.slice(0, 12);
          assertEquals((await client.runtime.listContainers({})).containers, []);
          assertEquals(
            await code(client.runtime.containerStatus({ containerId: prefix })),
            grpc.status.NOT_FOUND,
          );
          assertEquals(
            await code(client.runtime.startContainer({ containerId: id })),
            grpc.status.NOT_FOUND,
          );
          assertEquals(
            await code(client.runtime.removeContainer({ containerId: prefix })),
            grpc.status.NOT_FOUND,
          );
          assertEquals(await code(client.runtime.removeContainer({ containerId: id })), "ok");
          assert(
            (await mountPoints()).has(`${agent.root}/containers/${id}/rootfs`),
            "still mounted",
          );
          await release();
        }
        assertEquals((await creating).containerId, id);
        await client.runtime.startContainer({ containerId: id });
        const st = (await client.runtime.containerStatus({ containerId: id })).status!;
        assertEquals(st.state, ContainerState.CONTAINER_RUNNING);
      },
    );

    await t.step("a create cancelled while held fails cleanly", async () => {
      const before = new Set(
        await Array.fromAsync(Deno.readDir(`${agent.root}/containers`), (e) => e.name),
      );
      const abort = new AbortController();
      const creating = client.runtime.createContainer({
        podSandboxId: podId,
        config: containerConfig("gone", images.busybox.ref, ["sleep", "600"]),
        sandboxConfig: pod,
      }, { signal: abort.signal });
      const release = await held(agent, "container-create:after-mount");
      const id = (await Array.fromAsync(Deno.readDir(`${agent.root}/containers`), (e) => e.name))
        .find((n) => !before.has(n))!;
      abort.abort();
      await creating.catch(() => {});
      await release();
      await eventually("the cancelled create to undo itself", async () => {
        const gone = !(await Deno.stat(`${agent.root}/containers/${id}`).then(() =>
          true, () => false));
        return gone && !(await mountPoints()).has(`${agent.root}/containers/${id}/rootfs`)
          ? true
          : undefined;
      });
    });

    await t.step(
      "after a crash and a restart: one container, running, no ghost, no mount",
      async () => {
        client.close(); // a connection open across the agent's stop trips Deno's node:http2
        await agent.stop("SIGKILL");
        await agent.reconfigure(sandboxConfig(images.pause.ref));
        await agent.launch();
        const c2 = new CriClient(agent.socket);
        try {
          const ctrs = (await c2.runtime.listContainers({})).containers;
          assertEquals(ctrs.map((c) => [c.metadata?.name, c.state]), [[
            "c",
            ContainerState.CONTAINER_RUNNING,
          ]]);
          assertEquals((await c2.runtime.listPodSandbox({})).items.map((p) => p.id), [podId]);
          await c2.runtime.removePodSandbox({ podSandboxId: podId });
          assertEquals((await c2.runtime.listContainers({})).containers, []);
        } finally {
          c2.close();
        }
        await agent.stop("SIGTERM");
        await agent.launch();
        const c3 = new CriClient(agent.socket);
        try {
          assertEquals((await c3.runtime.listContainers({})).containers, []);
          assertEquals((await c3.runtime.listPodSandbox({})).items, []);
        } finally {
          c3.close();
        }
        assertEquals(await leftovers(agent), NOTHING);
      },
    );
  } finally {
    await releaseAll(agent);
  }
});
