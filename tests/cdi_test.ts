/**
 * CDI devices end to end: specs the test writes into the agent's configured `[cdi]
 * spec_dirs` give a container a device node (`/dev/null` under another name), variables, a
 * mount, an extra group and an OCI hook, through `CDI_devices` and through `cdi.k8s.io/*` annotations; an unknown device
 * and a malformed spec are FAILED_PRECONDITION naming them, and leave nothing behind.
 */
import * as grpc from "@grpc/grpc-js";
import { assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { e2eEnv } from "./harness/env.ts";
import { CriError } from "./harness/cri_client.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

const dec = new TextDecoder();

Deno.test("cdi: CDI_devices and cdi.k8s.io annotations bring device nodes, env and mounts; bad ones are refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cdi-" });
  try {
    const [low, high, data] = [`${dir}/etc`, `${dir}/run`, `${dir}/data`];
    for (const d of [low, high, data]) await Deno.mkdir(d);
    await Deno.writeTextFile(`${data}/hello.txt`, "from the host\n");
    // The low-priority directory's version of null0 must lose to the high one's.
    await Deno.writeTextFile(
      `${low}/test.json`,
      JSON.stringify({
        cdiVersion: "0.6.0",
        kind: "sauropod.test/dev",
        devices: [{ name: "null0", containerEdits: { env: ["WHICH=low"] } }],
      }),
    );
    await Deno.writeTextFile(
      `${high}/test.yaml`,
      [
        `cdiVersion: "0.7.0"`,
        `kind: sauropod.test/dev`,
        `containerEdits:`,
        `  env: [CDI_SPEC=1]`,
        `  additionalGids: [4242]`,
        `  hooks:`,
        `    - hookName: createRuntime`,
        `      path: /bin/sh`,
        `      args: [sh, -c, "cat > ${dir}/hook-state.json"]`,
        `devices:`,
        `  - name: null0`,
        `    containerEdits:`,
        `      deviceNodes: [{ path: /dev/cdi-null, hostPath: /dev/null, permissions: rw }]`,
        `      env: [WHICH=high]`,
        `      mounts: [{ hostPath: ${data}, containerPath: /cdi-data, options: [ro, nosuid] }]`,
        `  - name: annotated`,
        `    containerEdits:`,
        `      env: [FROM_ANNOTATION=yes]`,
        ``,
      ].join("\n"),
    );
    await using env = await e2eEnv({
      config: `[cdi]\nspec_dirs = ${JSON.stringify([low, high])}`,
    });
    const { client, images, logRoot, agent } = env;
    await client.image.pullImage({ image: { image: images.busybox.ref } });
    const pod = podConfig(logRoot, "cdi");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const id = await runContainer(
      client,
      podId,
      containerConfig("dev", images.busybox.ref, ["sleep", "100000"], {
        CDIDevices: [{ name: "sauropod.test/dev=null0" }],
        annotations: { "cdi.k8s.io/test_plugin": "sauropod.test/dev=annotated" },
      }),
      pod,
    );
    const sh = async (script: string) => {
      const r = await client.runtime.execSync({
        containerId: id,
        cmd: ["sh", "-c", script],
        timeout: 10,
      });
      return { code: r.exitCode, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
    };
    // A character device 1,3 the container may write to (the device cgroup lets it).
    const node = await sh(
      "stat -c '%F %t,%T' /dev/cdi-null && echo x > /dev/cdi-null && echo wrote",
    );
    assertEquals(node.out, "character special file 1,3\nwrote\n");
    const vars = await sh("echo $WHICH $CDI_SPEC $FROM_ANNOTATION");
    assertEquals(vars.out, "high 1 yes\n");
    assertEquals((await sh("cat /cdi-data/hello.txt")).out, "from the host\n");
    const ro = await sh("touch /cdi-data/new 2>&1");
    assertEquals(ro.code !== 0, true, `the ro mount took a write: ${ro.out}`);
    assertEquals((await sh("id -G")).out.trim().split(" ").includes("4242"), true, "extra gid");
    // The hook ran on the host with the container's state on stdin.
    assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/hook-state.json`)).id, id);

    // An unknown device: FAILED_PRECONDITION naming it and the field; nothing created.
    const unknown = await assertRejects(
      () =>
        client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("unknown", images.busybox.ref, ["true"], {
            CDIDevices: [{ name: "sauropod.test/dev=gpu9" }],
          }),
          sandboxConfig: pod,
        }),
      CriError,
    );
    assertEquals(unknown.code, grpc.status.FAILED_PRECONDITION);
    assertStringIncludes(
      unknown.details,
      'CDI_devices[0].name: CDI device "sauropod.test/dev=gpu9"',
    );

    // A malformed spec of the kind asked for: FAILED_PRECONDITION naming the file.
    await Deno.writeTextFile(
      `${high}/broken.yaml`,
      "cdiVersion: 0.6.0\nkind: sauropod.test/dev\ndevices: [\n",
    );
    const broken = await assertRejects(
      () =>
        client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("broken", images.busybox.ref, ["true"], {
            annotations: { "cdi.k8s.io/test_plugin": "sauropod.test/dev=annotated" },
          }),
          sandboxConfig: pod,
        }),
      CriError,
    );
    assertEquals(broken.code, grpc.status.FAILED_PRECONDITION);
    assertStringIncludes(broken.details, `${high}/broken.yaml`);
    const names = (await client.runtime.listContainers({})).containers.map((c) => c.metadata?.name);
    assertEquals(names, ["dev"]);

    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals(await leftovers(agent), NOTHING);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
