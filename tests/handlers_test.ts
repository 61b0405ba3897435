/**
 * Runtime handlers through the agent: two `[runtime.handlers.*]` tables, `runc` (the
 * default) and `oldrunc`, a wrapper around the same runc that reports version 1.0.3 and no
 * `features` command, as a runc older than 1.1 does, and logs every call. The agent probes
 * both at start: Status lists each (and the default again as ""), with recursive read-only
 * mounts where runc's `features` lists `rro` and the kernel's mount_setattr works, and not
 * on `oldrunc` (the version table says 1.1). A pod names its handler; every runtime call of
 * its containers goes through that handler's binary, options and root. An unknown handler,
 * an `rro` mount on a handler without it and a user-namespaced pod on this host are refused
 * with the field named, leaving nothing behind.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import * as grpc from "@grpc/grpc-js";
import { NamespaceMode } from "../api/gen/api.ts";
import { e2eEnv } from "./harness/env.ts";
import { CriError } from "./harness/cri_client.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

const dec = new TextDecoder();

/** A runc that claims to be 1.0.3 (no `features`, no rro by version) and logs its calls. */
async function oldRunc(dir: string): Promise<{ binary: string; log: string }> {
  const binary = `${dir}/oldrunc`;
  const log = `${dir}/oldrunc.log`;
  await Deno.writeTextFile(
    binary,
    [
      "#!/bin/sh",
      `echo "$*" >> ${log}`,
      'if [ "$1" = "--version" ]; then echo "runc version 1.0.3"; exit 0; fi',
      'if [ "$1" = "features" ]; then echo "unknown command features" >&2; exit 1; fi',
      'exec runc "$@"',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return { binary, log };
}

Deno.test("runtime handlers: selection, Status features, check, rro, userns refusal", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "sauropod-handlers-" });
  const old = await oldRunc(tmp);
  // A volume with a submount: only a recursively read-only bind makes the submount read-only.
  const vol = `${tmp}/vol`;
  await Deno.mkdir(`${vol}/sub`, { recursive: true });
  await run("mount", ["-t", "tmpfs", "tmpfs", `${vol}/sub`]);
  try {
    await using env = await e2eEnv({
      config: [
        "[runtime]",
        'default_handler = "runc"',
        "[runtime.handlers.runc]",
        "[runtime.handlers.oldrunc]",
        `binary = "${old.binary}"`,
        'options = ["--debug"]',
      ].join("\n"),
    });
    const { client, images, logRoot, agent } = env;
    await client.image.pullImage({ image: { image: images.busybox.ref } });

    await t.step(
      'Status lists each handler, and the default as "", with probed features',
      async () => {
        const st = await client.runtime.status({ verbose: true });
        assertEquals(st.runtimeHandlers, [
          { name: "", features: { recursiveReadOnlyMounts: true, userNamespaces: false } },
          { name: "runc", features: { recursiveReadOnlyMounts: true, userNamespaces: false } },
          { name: "oldrunc", features: { recursiveReadOnlyMounts: false, userNamespaces: false } },
        ]);
        const info = JSON.parse(st.info.runtimeHandlers!);
        assertEquals(info.map((h: { source: string }) => h.source), ["features", "version-table"]);
        assertEquals(info[1].version, "runc version 1.0.3");
      },
    );

    await t.step("sauropod check prints each handler and what it supports", async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "main.ts", "check", "--config", agent.configPath],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = dec.decode(out.stdout);
      assertStringIncludes(
        text,
        'handler    "runc" (default): /usr/sbin/runc: runc version',
      );
      assertStringIncludes(
        text,
        "recursive read-only mounts yes, user namespaces no (from features)",
      );
      assertStringIncludes(
        text,
        `"oldrunc": ${old.binary}: runc version 1.0.3; root ${agent.state}/runtimes/oldrunc; ` +
          "recursive read-only mounts no, user namespaces no (from version-table)",
      );
      assertStringIncludes(text, "rro no (needs 1.1.0)");
    });

    await t.step("an unknown handler is NOT_FOUND naming it, and nothing is made", async () => {
      const err = await assertRejects(
        () =>
          client.runtime.runPodSandbox({
            config: podConfig(logRoot, "kata"),
            runtimeHandler: "kata",
          }),
        CriError,
      );
      assertEquals(err.code, grpc.status.NOT_FOUND);
      assertStringIncludes(err.message, 'runtime_handler "kata" is not configured');
      assertEquals((await client.runtime.listPodSandbox({})).items, []);
      assertEquals(await leftovers(agent), NOTHING);
    });

    await t.step("a user-namespaced pod is refused at RunPodSandbox on this host", async () => {
      const pod = podConfig(logRoot, "userns", {
        linux: {
          securityContext: {
            namespaceOptions: {
              pid: NamespaceMode.CONTAINER,
              usernsOptions: {
                mode: NamespaceMode.POD,
                uids: [{ hostId: 65536, containerId: 0, length: 65536 }],
                gids: [{ hostId: 65536, containerId: 0, length: 65536 }],
              },
            },
          },
        },
      });
      const err = await assertRejects(
        () => client.runtime.runPodSandbox({ config: pod }),
        CriError,
      );
      assertEquals(err.code, grpc.status.FAILED_PRECONDITION);
      assertStringIncludes(
        err.message,
        'userns_options: the runtime handler "runc" does not support user namespaces',
      );
      // A bad mapping is refused as such, whatever the handler.
      pod.linux!.securityContext!.namespaceOptions!.usernsOptions!.uids = [
        { hostId: 0, containerId: 0, length: 65536 },
      ];
      const bad = await assertRejects(
        () => client.runtime.runPodSandbox({ config: pod }),
        CriError,
      );
      assertEquals(bad.code, grpc.status.INVALID_ARGUMENT);
      assertStringIncludes(bad.message, "uids[0].host_id: 0 overlaps the host's own ids");
      assertEquals((await client.runtime.listPodSandbox({})).items, []);
      assertEquals(await leftovers(agent), NOTHING);
    });

    await t.step("the default handler makes an rro mount's submounts read-only too", async () => {
      const pod = podConfig(logRoot, "rro");
      const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
      assertEquals(
        (await client.runtime.podSandboxStatus({ podSandboxId: podId })).status?.runtimeHandler,
        "",
      );
      const id = await runContainer(
        client,
        podId,
        containerConfig("c", images.busybox.ref, ["sleep", "100000"], {
          mounts: [
            { containerPath: "/r", hostPath: vol, readonly: true, recursiveReadOnly: true },
            { containerPath: "/w", hostPath: vol, readonly: true },
          ],
        }),
        pod,
      );
      const touch = async (path: string) => {
        const r = await client.runtime.execSync({
          containerId: id,
          cmd: ["touch", path],
          timeout: 30,
        });
        return { exitCode: r.exitCode, stderr: dec.decode(r.stderr) };
      };
      const ro = await touch("/r/sub/x");
      assertEquals(ro.exitCode, 1);
      assertStringIncludes(ro.stderr, "Read-only file system");
      // Without rro the submount stays writable: what rro is for.
      assertEquals((await touch("/w/sub/x")).exitCode, 0);
      // The kubelet's rules: readonly is required.
      const err = await assertRejects(
        () =>
          client.runtime.createContainer({
            podSandboxId: podId,
            config: containerConfig("rw", images.busybox.ref, ["true"], {
              mounts: [{ containerPath: "/r", hostPath: vol, recursiveReadOnly: true }],
            }),
            sandboxConfig: pod,
          }),
        CriError,
      );
      assertEquals(err.code, grpc.status.INVALID_ARGUMENT);
      assertStringIncludes(err.message, "mounts[0].recursive_read_only: requires readonly");
      await client.runtime.removePodSandbox({ podSandboxId: podId });
    });

    await t.step("a pod on oldrunc runs every call through it; rro is refused there", async () => {
      await Deno.writeTextFile(old.log, "");
      const pod = podConfig(logRoot, "old");
      const podId = (await client.runtime.runPodSandbox({ config: pod, runtimeHandler: "oldrunc" }))
        .podSandboxId;
      assertEquals(
        (await client.runtime.podSandboxStatus({ podSandboxId: podId })).status?.runtimeHandler,
        "oldrunc",
      );
      const err = await assertRejects(
        () =>
          client.runtime.createContainer({
            podSandboxId: podId,
            config: containerConfig("rro", images.busybox.ref, ["true"], {
              mounts: [{
                containerPath: "/r",
                hostPath: vol,
                readonly: true,
                recursiveReadOnly: true,
              }],
            }),
            sandboxConfig: pod,
          }),
        CriError,
      );
      assertEquals(err.code, grpc.status.INVALID_ARGUMENT);
      assertStringIncludes(
        err.message,
        "mounts[0].recursive_read_only: the pod's runtime handler cannot make mounts recursively",
      );
      assertEquals((await client.runtime.listContainers({})).containers, []);

      const id = await runContainer(
        client,
        podId,
        containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
        pod,
      );
      const r = await client.runtime.execSync({
        containerId: id,
        cmd: ["echo", "hi"],
        timeout: 30,
      });
      assertEquals(dec.decode(r.stdout), "hi\n");
      await client.runtime.stopContainer({ containerId: id, timeout: 0 });
      await client.runtime.removePodSandbox({ podSandboxId: podId });
      const calls = (await Deno.readTextFile(old.log)).split("\n").filter(Boolean);
      const root = `--root ${agent.state}/runtimes/oldrunc`;
      for (const call of ["create", "start", "exec", "kill", "delete"]) {
        const line = calls.find((l) => new RegExp(` ${call} `).test(` ${l} `));
        assert(line, `oldrunc ran "${call}": ${calls.join(" | ")}`);
        assert(line.startsWith(`${root} --debug `), line);
      }
      // Only the pod's calls: runc's own containers never went through the wrapper.
      assertEquals((await runcIds(`${agent.state}/runtimes/oldrunc`)).length, 0);
    });

    assertEquals(await leftovers(agent), NOTHING);
  } finally {
    await run("umount", ["-l", `${vol}/sub`]).catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(out.stderr)}`);
}

async function runcIds(root: string): Promise<string[]> {
  const out = await new Deno.Command("runc", { args: ["--root", root, "list", "-q"] }).output();
  return dec.decode(out.stdout).split("\n").filter(Boolean);
}

Deno.test("user namespaces on the host: a pod's own namespace, idmapped image layers, across an agent restart", async () => {
  // runc 1.1.5 (this host's) joins a user namespace but has no idmapped mounts, so it is not
  // offered: the same runc behind a wrapper that says "crun 1.8.1" is, by the version table.
  // Only volume mappings would differ (runc ignores them), and this pod has none: it proves
  // sauropod's part (the namespace, the idmapped rootfs, the directories' modes).
  const tmp = await Deno.makeTempDir({ prefix: "sauropod-userns-" });
  const binary = `${tmp}/crun`;
  await Deno.writeTextFile(
    binary,
    [
      "#!/bin/sh",
      'if [ "$1" = "--version" ]; then echo "crun version 1.8.1"; exit 0; fi',
      'if [ "$1" = "features" ]; then echo "unknown command features" >&2; exit 1; fi',
      'exec runc "$@"',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  try {
    await using env = await e2eEnv({
      config: [
        "[runtime]",
        'default_handler = "runc"',
        "[runtime.handlers.runc]",
        "[runtime.handlers.crun]",
        `binary = "${binary}"`,
      ].join("\n"),
    });
    const { client, images, logRoot, agent } = env;
    await client.image.pullImage({ image: { image: images.busybox.ref } });
    const M = [{ hostId: 4 * 65536, containerId: 0, length: 65536 }];
    const sc = {
      namespaceOptions: {
        pid: NamespaceMode.CONTAINER,
        usernsOptions: { mode: NamespaceMode.POD, uids: M, gids: M },
      },
    };
    const pod = podConfig(logRoot, "userns", { linux: { securityContext: sc } });
    const podId = (await client.runtime.runPodSandbox({ config: pod, runtimeHandler: "crun" }))
      .podSandboxId;
    const check = async (name: string) => {
      const id = await runContainer(
        client,
        podId,
        containerConfig(name, images.busybox.ref, ["sleep", "100000"], {
          linux: { securityContext: sc },
        }),
        pod,
      );
      const r = await client.runtime.execSync({
        containerId: id,
        cmd: ["sh", "-c", "id -u; stat -c %u:%g /bin/busybox; touch /new && stat -c %u /new"],
        timeout: 30,
      });
      assertEquals([dec.decode(r.stdout), dec.decode(r.stderr)], ["0\n0:0\n0\n", ""]);
      const pid = Number((await Deno.readTextFile(`${agent.state}/shims/${id}/init.pid`)).trim());
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      assertEquals(status.match(/^Uid:\s+(\d+)/m)?.[1], String(4 * 65536));
    };
    await check("first");
    // A restart tightens the pod's directories back to 0700; a new container still starts.
    await agent.stop();
    await agent.launch();
    await check("second");
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals(await leftovers(agent), NOTHING);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
