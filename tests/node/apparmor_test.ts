/**
 * AppArmor on a node that has it (Debian's kernel, the `apparmor` package): containers run
 * under sauropod's default profile unless they ask otherwise — the pod's pause process, the
 * container's init and the processes exec'd into it, as the kernel reports in
 * `/proc/<pid>/attr/current` — and the profile denies what it says (a mount, even with
 * CAP_SYS_ADMIN, which unconfined succeeds); a Localhost profile loaded on the node is
 * applied and denies the writes it denies; one that is not loaded is FAILED_PRECONDITION
 * naming it; Unconfined and privileged containers are unconfined.
 */
import * as grpc from "@grpc/grpc-js";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../../testing/assert.ts";
import { NamespaceMode, SecurityProfile_ProfileType as ProfileType } from "../../api/gen/api.ts";
import { CriError } from "../harness/cri_client.ts";
import type { DeepPartial } from "../harness/cri_client.ts";
import type { ContainerConfig } from "../../api/gen/api.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { onNode, run, sh, step } from "./_node.ts";

const dec = new TextDecoder();
const DEFAULT = /^sauropod-default-[0-9a-f]{12} \(enforce\)$/;
/** A profile the test loads: containerd-like, but writes to /tmp/denied* are denied. */
const TEST_PROFILE = "sauropod-test-deny-tmp";
const TEST_PROFILE_TEXT = `profile ${TEST_PROFILE} flags=(attach_disconnected,mediate_deleted) {
  file,
  network,
  capability,
  umount,
  signal,
  ptrace,
  deny /tmp/denied* w,
}
`;

Deno.test(onNode(
  "AppArmor: default profile on pause, init and exec; mount denied; Localhost applied or refused",
  "disposable",
  async (t) => {
    const enabled = await Deno.readTextFile("/sys/module/apparmor/parameters/enabled")
      .catch(() => "absent");
    assert(
      enabled.startsWith("Y"),
      `AppArmor is not enabled here (${enabled.trim()}): the node-vm guest gets it from the ` +
        "apparmor package (tests/node/run.ts GUEST_PACKAGES)",
    );
    await using env = await nodeEnv({ driver: "cgroupfs" });
    const { agent, client, images, logRoot } = env;
    const profileFile = `${agent.dir}/${TEST_PROFILE}`;
    let loaded = false;
    const exec = async (id: string, script: string) => {
      const r = await client.runtime.execSync({
        containerId: id,
        cmd: ["sh", "-c", script],
        timeout: 60,
      });
      return { code: r.exitCode, out: dec.decode(r.stdout).trim(), err: dec.decode(r.stderr) };
    };
    const sleeper = (name: string, extra: DeepPartial<ContainerConfig> = {}) =>
      containerConfig(name, images.busybox.ref, ["sleep", "100000"], extra);
    const pods: string[] = [];
    try {
      await client.image.pullImage({ image: { image: images.busybox.ref } });
      const shared = { namespaceOptions: { pid: NamespaceMode.POD } };
      const pod = podConfig(logRoot, "aa", { linux: { securityContext: shared } });
      const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
      pods.push(podId);
      let defaultName = "";

      await step(t, "Status says AppArmor is enabled", async () => {
        const info = JSON.parse((await client.runtime.status({ verbose: true })).info.apparmor!);
        assertEquals(info.enabled, true);
      });

      await step(t, "pause, init and exec'd processes run under the default profile", async () => {
        const id = await runContainer(
          client,
          podId,
          sleeper("plain", { linux: { securityContext: shared } }),
        );
        // In a shared PID namespace, PID 1 is the pod's pause process.
        const r = await exec(id, "cat /proc/1/attr/current /proc/self/attr/current");
        const [pause, self] = r.out.split("\n").map((l) => l.replace(/\0/g, "").trim());
        assertMatch(self ?? "", DEFAULT);
        assertEquals(pause, self, "the pause process");
        defaultName = self!.split(" ")[0]!;
        const initPid = (await Deno.readTextFile(`${agent.state}/shims/${id}/init.pid`)).trim();
        assertEquals((await Deno.readTextFile(`/proc/${initPid}/attr/current`)).trim(), self);
        const profiles = await Deno.readTextFile("/sys/kernel/security/apparmor/profiles");
        assertStringIncludes(profiles, `${defaultName} (enforce)\n`);
        // Asked for explicitly, in either form, it is the same profile.
        for (
          const [i, sc] of [
            { apparmor: { profileType: ProfileType.RuntimeDefault } },
            { apparmorProfile: "runtime/default" },
          ].entries()
        ) {
          const other = await runContainer(
            client,
            podId,
            sleeper(`rd${i}`, {
              linux: { securityContext: { ...sc, ...shared } },
            }),
          );
          assertEquals((await exec(other, "cat /proc/self/attr/current")).out, self);
        }
      });

      await step(
        t,
        "the default profile denies a mount that CAP_SYS_ADMIN allows unconfined",
        async () => {
          const mount = "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted";
          const caps = { capabilities: { addCapabilities: ["SYS_ADMIN"] } };
          const confined = await runContainer(
            client,
            podId,
            sleeper("mnt-confined", {
              linux: { securityContext: { ...caps, ...shared } },
            }),
          );
          const denied = await exec(confined, mount);
          assert(denied.code !== 0, `mount under ${defaultName}: ${denied.out}`);
          assertStringIncludes(denied.err, "Permission denied");
          const free = await runContainer(
            client,
            podId,
            sleeper("mnt-free", {
              linux: {
                securityContext: {
                  ...caps,
                  ...shared,
                  apparmor: { profileType: ProfileType.Unconfined },
                },
              },
            }),
          );
          assertEquals((await exec(free, "cat /proc/self/attr/current")).out, "unconfined");
          assertEquals((await exec(free, mount)).out, "mounted");
        },
      );

      await step(
        t,
        "a Localhost profile loaded on the node is applied and denies its writes",
        async () => {
          await Deno.writeTextFile(profileFile, TEST_PROFILE_TEXT);
          await sh("apparmor_parser", ["-Kr", profileFile]);
          loaded = true;
          const id = await runContainer(
            client,
            podId,
            sleeper("local", {
              linux: {
                securityContext: {
                  ...shared,
                  apparmor: { profileType: ProfileType.Localhost, localhostRef: TEST_PROFILE },
                },
              },
            }),
          );
          assertEquals(
            (await exec(id, "cat /proc/self/attr/current")).out,
            `${TEST_PROFILE} (enforce)`,
          );
          assertEquals((await exec(id, "echo x > /tmp/allowed && cat /tmp/allowed")).out, "x");
          const denied = await exec(id, "echo x > /tmp/denied-file");
          assert(denied.code !== 0, "the write was denied");
          assertStringIncludes(denied.err, "Permission denied");
          // The deprecated string form names the same profile.
          const old = await runContainer(
            client,
            podId,
            sleeper("local-old", {
              linux: {
                securityContext: { ...shared, apparmorProfile: `localhost/${TEST_PROFILE}` },
              },
            }),
          );
          assertEquals(
            (await exec(old, "cat /proc/self/attr/current")).out,
            `${TEST_PROFILE} (enforce)`,
          );
        },
      );

      await step(t, "a Localhost profile not loaded is FAILED_PRECONDITION naming it", async () => {
        const before = (await client.runtime.listContainers({})).containers.length;
        const err = await assertRejects(
          () =>
            client.runtime.createContainer({
              podSandboxId: podId,
              config: sleeper("missing", {
                linux: {
                  securityContext: {
                    ...shared,
                    apparmor: {
                      profileType: ProfileType.Localhost,
                      localhostRef: "no-such-profile",
                    },
                  },
                },
              }),
            }),
          CriError,
        );
        assertEquals(err.code, grpc.status.FAILED_PRECONDITION, err.details);
        assertStringIncludes(
          err.details,
          "config.linux.security_context.apparmor.localhost_ref: AppArmor profile " +
            '"no-such-profile" is not loaded on this node',
        );
        assertEquals((await client.runtime.listContainers({})).containers.length, before);
      });

      await step(t, "a privileged container runs unconfined", async () => {
        const privPod = podConfig(logRoot, "aa-priv", {
          linux: {
            securityContext: {
              privileged: true,
              namespaceOptions: { pid: NamespaceMode.CONTAINER },
            },
          },
        });
        const privId = (await client.runtime.runPodSandbox({ config: privPod })).podSandboxId;
        pods.push(privId);
        const id = await runContainer(
          client,
          privId,
          sleeper("priv", {
            linux: { securityContext: { privileged: true } },
          }),
        );
        assertEquals((await exec(id, "cat /proc/self/attr/current")).out, "unconfined");
      });

      for (const id of pods.splice(0)) await client.runtime.removePodSandbox({ podSandboxId: id });
      assertEquals(await leftovers(agent), NOTHING);
    } finally {
      for (const id of pods) {
        await client.runtime.removePodSandbox({ podSandboxId: id }).catch(() => {});
      }
      if (loaded) await run("apparmor_parser", ["-R", profileFile]);
    }
  },
));
