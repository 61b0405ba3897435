/**
 * Pod and container annotations reach the OCI runtime only through the operator's
 * allowlist (`runtime.pod_annotations`, `runtime.container_annotations`), so a pod cannot
 * steer crun (`run.oci.*`) or runc's systemd driver (`org.systemd.property.*`): checked in
 * the bundles' `config.json` of a container and of a pause container.
 */
import { assertEquals } from "../testing/assert.ts";
import { NamespaceMode } from "../api/gen/api.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

Deno.test("annotations: only allowlisted pod and container annotations reach the bundles' config.json", async () => {
  await using env = await e2eEnv({
    config: [
      "[runtime]",
      'pod_annotations = ["example.com/*"]',
      'container_annotations = ["io.katacontainers.*"]',
    ].join("\n"),
  });
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  // A shared PID namespace, so that the pod has a pause container with a bundle of its own.
  const pod = podConfig(logRoot, "annotated", {
    annotations: {
      "example.com/team": "a",
      "run.oci.keep_original_groups": "1",
      "org.systemd.property.CPUQuota": "1%",
    },
    linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
  });
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const id = await runContainer(
    client,
    podId,
    containerConfig("c", images.busybox.ref, ["sleep", "100000"], {
      annotations: {
        "io.katacontainers.config.hypervisor.x": "1",
        "run.oci.seccomp_bpf_data": "AAAA",
        "example.com/owner": "b",
        "io.kubernetes.cri.container-type": "sandbox",
      },
      linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } },
    }),
    pod,
  );

  const own = (a: Record<string, string>) =>
    Object.fromEntries(Object.entries(a).filter(([k]) => !k.startsWith("io.kubernetes.cri.")));
  const ctr = JSON.parse(await Deno.readTextFile(`${agent.root}/containers/${id}/config.json`));
  assertEquals(own(ctr.annotations), {
    "example.com/team": "a",
    "io.katacontainers.config.hypervisor.x": "1",
  });
  assertEquals(ctr.annotations["io.kubernetes.cri.container-type"], "container");
  assertEquals(ctr.annotations["io.kubernetes.cri.sandbox-id"], podId);

  const info = JSON.parse(
    (await client.runtime.podSandboxStatus({ podSandboxId: podId, verbose: true })).info.info!,
  );
  const pause = JSON.parse(await Deno.readTextFile(`${info.pause.bundle}/config.json`));
  assertEquals(own(pause.annotations), { "example.com/team": "a" });
  assertEquals(pause.annotations["io.kubernetes.cri.container-type"], "sandbox");

  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(agent), NOTHING);
});
