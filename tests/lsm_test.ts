/**
 * AppArmor and SELinux through the CRI on a node that has neither (this machine; the
 * node-vm guest, which has AppArmor, proves the confinement itself in `tests/node/`):
 * Localhost profiles are refused with an error naming the field and the profile, and
 * nothing is half-made; RuntimeDefault runs, unconfined, as CRI-O runs it there; SELinux
 * options are ignored, as containerd and CRI-O ignore them there; Status says all of it.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { ContainerState, SecurityProfile_ProfileType as ProfileType } from "../api/gen/api.ts";
import { CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

const apparmorEnabled = await Deno.readTextFile("/sys/module/apparmor/parameters/enabled")
  .then((t) => t.startsWith("Y"), () => false);

Deno.test({
  name: "lsm: without AppArmor, Localhost is refused and RuntimeDefault runs unconfined; " +
    "SELinux options are ignored; Status says so",
  ignore: apparmorEnabled,
  async fn(t) {
    await using env = await e2eEnv();
    const { client, images, logRoot, agent } = env;
    await client.image.pullImage({ image: { image: images.busybox.ref } });
    const pod = podConfig(logRoot, "lsm");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const sleeper = (name: string, securityContext: Record<string, unknown>) =>
      containerConfig(name, images.busybox.ref, ["sleep", "100000"], {
        linux: { securityContext },
      });

    await t.step("Status's verbose info says AppArmor is not enabled, and why", async () => {
      const st = await client.runtime.status({ verbose: true });
      const apparmor = JSON.parse(st.info.apparmor!);
      assertEquals(apparmor.enabled, false);
      assertStringIncludes(apparmor.reason, "/sys/kernel/security/apparmor");
      assertEquals(JSON.parse(st.info.selinux!).enabled, false);
    });

    await t.step("Localhost is FAILED_PRECONDITION naming the field and the profile", async () => {
      for (
        const [sc, field] of [
          [
            { apparmor: { profileType: ProfileType.Localhost, localhostRef: "k8s-deny-write" } },
            "config.linux.security_context.apparmor.localhost_ref",
          ],
          [
            { apparmorProfile: "localhost/k8s-deny-write" },
            "config.linux.security_context.apparmor_profile",
          ],
        ] as const
      ) {
        const err = await assertRejects(
          () => client.runtime.createContainer({ podSandboxId: podId, config: sleeper("aa", sc) }),
          CriError,
        );
        assertEquals(err.code, grpc.status.FAILED_PRECONDITION, err.details);
        assertStringIncludes(
          err.details,
          `${field}: cannot apply AppArmor profile "k8s-deny-write": AppArmor is not enabled ` +
            "on this node",
        );
      }
      assertEquals((await client.runtime.listContainers({})).containers, []);
      const l = await leftovers(agent);
      assertEquals([l.containerDirs, l.runcContainers], [[], []]);
    });

    await t.step("RuntimeDefault (either form) runs, with no profile in its spec", async () => {
      for (
        const sc of [
          { apparmor: { profileType: ProfileType.RuntimeDefault } },
          { apparmorProfile: "runtime/default" },
          {},
        ]
      ) {
        const id = await runContainer(client, podId, sleeper(`rd${Object.keys(sc).length}`, sc));
        const st = await client.runtime.containerStatus({ containerId: id, verbose: true });
        assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
        const spec = JSON.parse(st.info.info!).runtimeSpec;
        assertEquals(spec.process.apparmorProfile, undefined);
        await client.runtime.stopContainer({ containerId: id, timeout: 0 });
        await client.runtime.removeContainer({ containerId: id });
      }
    });

    await t.step("SELinux options and relabelled volumes are ignored", async () => {
      const id = await runContainer(
        client,
        podId,
        containerConfig("se", images.busybox.ref, ["sleep", "100000"], {
          linux: {
            securityContext: {
              selinuxOptions: { user: "system_u", role: "system_r", type: "spc_t", level: "s0" },
            },
          },
          mounts: [{ containerPath: "/data", hostPath: agent.dir, selinuxRelabel: true }],
        }),
      );
      const st = await client.runtime.containerStatus({ containerId: id, verbose: true });
      assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
      const spec = JSON.parse(st.info.info!).runtimeSpec;
      assertEquals([spec.process.selinuxLabel, spec.linux.mountLabel], [undefined, undefined]);
      assert(spec.mounts.some((m: { destination: string }) => m.destination === "/data"));
    });

    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals(await leftovers(agent), NOTHING);
  },
});
