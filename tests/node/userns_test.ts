/**
 * User namespaces (KEP-127, `hostUsers: false`) with crun as a runtime handler, on the
 * Debian 12 node (kernel 6.1, crun 1.8.1, runc 1.1.5): Status advertises user namespaces
 * for crun only (runc 1.1.5 has no idmapped mounts and would silently ignore them), a pod
 * on runc is refused at RunPodSandbox, and a pod on crun runs in its own user namespace:
 * `id` inside is root, the process is the unprivileged host uid of the kubelet's mapping,
 * the image's files (idmapped lower layers, nothing copied) and a hostPath volume (an
 * idmapped bind, as the kubelet asks with the mount's mappings) show their real owners,
 * and removing the pod leaves nothing.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../testing/assert.ts";
import * as grpc from "@grpc/grpc-js";
import { NamespaceMode } from "../../api/gen/api.ts";
import { CriError } from "../harness/cri_client.ts";
import { containerConfig, leftovers, NOTHING, podConfig } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { onNode, step } from "./_node.ts";
import { kubeletSlices } from "./_slices.ts";

const dec = new TextDecoder();
/** The kubelet's mapping for a pod: a multiple of 65536 above the host's own range. */
const HOST_ID = 3 * 65536;
const MAPPING = [{ hostId: HOST_ID, containerId: 0, length: 65536 }];

Deno.test(onNode(
  "user namespaces on the crun handler: root inside, an unprivileged uid outside, owners right",
  "disposable",
  async (t) => {
    const uid = crypto.randomUUID();
    await using slices = await kubeletSlices(uid);
    await using env = await nodeEnv({
      driver: "systemd",
      handlers: [
        'default_handler = "runc"',
        "[runtime.handlers.runc]",
        "[runtime.handlers.crun]",
        'binary = "/usr/bin/crun"',
      ].join("\n"),
    });
    const { agent, client, images, logRoot } = env;
    // A hostPath volume on the root's filesystem (ext4; kernel 6.1 cannot idmap a tmpfs).
    const vol = `${agent.root}/vol`;
    await Deno.mkdir(vol, { recursive: true });
    await Deno.writeTextFile(`${vol}/root-file`, "r");
    await Deno.writeTextFile(`${vol}/user-file`, "u");
    await Deno.chown(`${vol}/user-file`, 1000, 1000);
    const userns = (pod: ReturnType<typeof podConfig>) => {
      pod.metadata = { ...pod.metadata, uid };
      pod.linux = {
        cgroupParent: slices.cgroupParent,
        securityContext: {
          namespaceOptions: {
            pid: NamespaceMode.CONTAINER,
            usernsOptions: { mode: NamespaceMode.POD, uids: MAPPING, gids: MAPPING },
          },
        },
      };
      return pod;
    };
    let podId = "";
    try {
      await step(t, "Status: user namespaces on crun (probed), not on runc", async () => {
        const st = await client.runtime.status({ verbose: true });
        const byName = Object.fromEntries(
          st.runtimeHandlers.map((h) => [h.name, h.features?.userNamespaces]),
        );
        assertEquals(byName, { "": false, runc: false, crun: true });
        const info = JSON.parse(st.info.runtimeHandlers!);
        const crun = info.find((h: { name: string }) => h.name === "crun");
        assertEquals(crun.source, "version-table");
        assert(
          crun.notes.some((n: string) =>
            n.startsWith("kernel idmap of the root's filesystem: yes")
          ),
          crun.notes.join("\n"),
        );
      });

      await step(t, "a user-namespaced pod on runc is refused at RunPodSandbox", async () => {
        const err = await assertRejects(
          () => client.runtime.runPodSandbox({ config: userns(podConfig(logRoot, "onrunc")) }),
          CriError,
        );
        assertEquals(err.code, grpc.status.FAILED_PRECONDITION);
        assertStringIncludes(
          err.message,
          'runtime handler "runc" does not support user namespaces',
        );
      });

      let id = "";
      const pod = userns(podConfig(logRoot, "userns"));
      await step(t, "a pod on crun runs in its own user namespace", async () => {
        await client.image.pullImage({ image: { image: images.busybox.ref } });
        podId = (await client.runtime.runPodSandbox({ config: pod, runtimeHandler: "crun" }))
          .podSandboxId;
        id = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("c", images.busybox.ref, ["sleep", "100000"], {
            linux: { securityContext: pod.linux!.securityContext! },
            mounts: [
              { containerPath: "/v", hostPath: vol, uidMappings: MAPPING, gidMappings: MAPPING },
              // The control: the same directory without the kubelet's mappings.
              { containerPath: "/plain", hostPath: vol },
            ],
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: id });
      });

      const exec = async (cmd: string) => {
        const r = await client.runtime.execSync({
          containerId: id,
          cmd: ["sh", "-c", cmd],
          timeout: 60,
        });
        assertEquals(r.exitCode, 0, `${cmd}: ${dec.decode(r.stderr)}`);
        return dec.decode(r.stdout).trim();
      };

      await step(t, "root inside, the mapped unprivileged uid outside", async () => {
        assertStringIncludes(await exec("id"), "uid=0(root) gid=0(root)");
        const pid = Number((await Deno.readTextFile(`${agent.state}/shims/${id}/init.pid`)).trim());
        const status = await Deno.readTextFile(`/proc/${pid}/status`);
        assertEquals(status.match(/^Uid:\s+(\d+)/m)?.[1], String(HOST_ID));
        assertEquals(status.match(/^Gid:\s+(\d+)/m)?.[1], String(HOST_ID));
        const map = (await Deno.readTextFile(`/proc/${pid}/uid_map`)).trim().split(/\s+/);
        assertEquals(map, ["0", String(HOST_ID), "65536"]);
      });

      await step(t, "the image's files and the volume show their owners inside", async () => {
        // Image layers are owned by host root: idmapped, root owns them inside.
        assertEquals(await exec("stat -c %u:%g /bin/busybox /etc/passwd"), "0:0\n0:0");
        // The writable layer is container root's: it can write anywhere a root can.
        await exec("touch /made-inside && mkdir -p /etc/new");
        assertEquals(await exec("stat -c %u:%g /made-inside"), "0:0");
        assertEquals(await exec("stat -c %u:%g /v/root-file /v/user-file"), "0:0\n1000:1000");
        // Without the mappings the host's ids are outside the namespace: nobody.
        assertEquals(await exec("stat -c %u:%g /plain/root-file"), "65534:65534");
        // Written through the idmapped volume, a file is host root's again.
        await exec("echo hi > /v/from-pod");
        const st = await Deno.stat(`${vol}/from-pod`);
        assertEquals([st.uid, st.gid], [0, 0]);
      });

      await step(
        t,
        "a tmpfs volume with the mapping is refused where tmpfs cannot be idmapped",
        async () => {
          const st = await client.runtime.status({ verbose: true });
          const crun = JSON.parse(st.info.runtimeHandlers!).find((h: { name: string }) =>
            h.name === "crun"
          );
          if (!crun.notes.some((n: string) => n.startsWith("kernel idmap of tmpfs: no"))) return;
          const err = await assertRejects(
            () =>
              client.runtime.createContainer({
                podSandboxId: podId,
                config: containerConfig("shm", images.busybox.ref, ["true"], {
                  linux: { securityContext: pod.linux!.securityContext! },
                  mounts: [{
                    containerPath: "/s",
                    hostPath: "/dev/shm",
                    uidMappings: MAPPING,
                    gidMappings: MAPPING,
                  }],
                }),
                sandboxConfig: pod,
              }),
            CriError,
          );
          assertEquals(err.code, grpc.status.INVALID_ARGUMENT);
          assertStringIncludes(
            err.message,
            '"/dev/shm" is on a tmpfs, which this kernel cannot idmap',
          );
        },
      );

      await step(t, "removing the pod leaves nothing", async () => {
        await client.runtime.stopContainer({ containerId: id, timeout: 0 });
        await client.runtime.removePodSandbox({ podSandboxId: podId });
        podId = "";
        assertEquals(await leftovers(agent), NOTHING);
      });
    } finally {
      if (podId) await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
    }
  },
));
