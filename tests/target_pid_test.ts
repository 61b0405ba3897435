/**
 * `namespace_options.pid: TARGET` with `target_id` (what `kubectl debug --target` sends for an
 * ephemeral container): the new container joins the target container's PID namespace.
 */
import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { NamespaceMode } from "../api/gen/api.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

const dec = new TextDecoder();

Deno.test("target pid: a container with pid TARGET sees its target's processes", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "target");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const target = await runContainer(
    client,
    podId,
    containerConfig("app", images.busybox.ref, ["sleep", "424242"]),
    pod,
  );
  const debug = await runContainer(
    client,
    podId,
    containerConfig("debug", images.busybox.ref, ["sleep", "100000"], {
      linux: {
        securityContext: {
          namespaceOptions: { pid: NamespaceMode.TARGET, targetId: target },
        },
      },
    }),
    pod,
  );
  const ps = dec.decode(
    (await client.runtime.execSync({
      containerId: debug,
      cmd: ["ps", "-o", "pid,args"],
      timeout: 10,
    }))
      .stdout,
  );
  assertStringIncludes(ps, "sleep 424242");
  // PID 1 there is the target's process, not the debug container's.
  assertStringIncludes(ps.split("\n").find((l) => /^\s*1\s/.test(l)) ?? "", "sleep 424242");
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(agent), NOTHING);
});
