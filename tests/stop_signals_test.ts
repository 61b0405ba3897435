/**
 * Stop signals (KEP-4960) through the CRI: ContainerConfig.stop_signal, an image's
 * STOPSIGNAL by name and by number, and the default; StopContainer sends exactly the
 * signal ContainerStatus.stop_signal reports, which a container's trap proves. A value that
 * names no signal is refused at CreateContainer, leaving nothing.
 */
import * as grpc from "@grpc/grpc-js";
import { assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  readCriLog,
  wholeLines,
} from "./harness/pods.ts";
import { Signal } from "../api/gen/api.ts";

Deno.test("stop signals: the reported signal is the one sent, from the config or the image", async (t) => {
  await using env = await e2eEnv();
  const { client, images, logRoot, agent } = env;
  for (const img of [images.busybox, ...Object.values(images.stopSignal)]) {
    await client.image.pullImage({ image: { image: img.ref } });
  }
  const pod = podConfig(logRoot, "stopsig");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  let n = 0;

  /**
   * Runs a container whose init (a shell, PID 1: it ignores any signal it has no trap for)
   * traps signal number `trapped` and exits 3; stops it; returns the reported signal, exit
   * code and log.
   */
  const stopTrapped = async (image: string, trapped: number, stopSignal?: Signal) => {
    const name = `c${++n}`;
    const script = `trap 'echo caught ${trapped}; exit 3' ${trapped}; echo ready; ` +
      "while :; do sleep 0.1; done";
    const { containerId } = await client.runtime.createContainer({
      podSandboxId: podId,
      config: containerConfig(name, image, ["sh", "-c", script], {
        ...(stopSignal !== undefined ? { stopSignal } : {}),
      }),
      sandboxConfig: pod,
    });
    await client.runtime.startContainer({ containerId });
    const log = `${pod.logDirectory}/${name}/0.log`;
    await eventually(
      "the trap is set",
      async () => wholeLines(await readCriLog(log), "stdout").includes("ready") || undefined,
    );
    const reported = (await client.runtime.containerStatus({ containerId })).status?.stopSignal;
    // Long enough for a loaded machine; a wrong signal ends in SIGKILL (137) instead.
    await client.runtime.stopContainer({ containerId, timeout: 30 });
    const st = (await client.runtime.containerStatus({ containerId })).status!;
    const lines = wholeLines(await readCriLog(log), "stdout");
    await client.runtime.removeContainer({ containerId });
    return { reported, exitCode: st.exitCode, lines };
  };

  try {
    await t.step("config.stop_signal SIGRTMIN+3 is reported and sent", async () => {
      const r = await stopTrapped(images.busybox.ref, 37, Signal.SIGNAL_SIGRTMINPLUS3);
      assertEquals(r.reported, Signal.SIGNAL_SIGRTMINPLUS3);
      assertEquals([r.exitCode, r.lines.at(-1)], [3, "caught 37"]);
    });

    await t.step("an image's STOPSIGNAL by name (SIGRTMIN+3) is reported and sent", async () => {
      const r = await stopTrapped(images.stopSignal.name.ref, 37);
      assertEquals(r.reported, Signal.SIGNAL_SIGRTMINPLUS3);
      assertEquals([r.exitCode, r.lines.at(-1)], [3, "caught 37"]);
    });

    await t.step("an image's STOPSIGNAL by number (10) is SIGUSR1, reported and sent", async () => {
      const r = await stopTrapped(images.stopSignal.number.ref, 10);
      assertEquals(r.reported, Signal.SIGNAL_SIGUSR1);
      assertEquals([r.exitCode, r.lines.at(-1)], [3, "caught 10"]);
    });

    await t.step("the config wins over the image; the default is SIGTERM", async () => {
      const r = await stopTrapped(images.stopSignal.name.ref, 3, Signal.SIGNAL_SIGQUIT);
      assertEquals(r.reported, Signal.SIGNAL_SIGQUIT);
      assertEquals([r.exitCode, r.lines.at(-1)], [3, "caught 3"]);
      const d = await stopTrapped(images.busybox.ref, 15);
      assertEquals(d.reported, Signal.SIGNAL_SIGTERM);
      assertEquals([d.exitCode, d.lines.at(-1)], [3, "caught 15"]);
    });

    await t.step(
      "a STOPSIGNAL or stop_signal naming no signal is refused; nothing is made",
      async () => {
        const before = await leftovers(agent);
        const cases: [string, Signal | undefined, string][] = [
          [images.stopSignal.bogus.ref, undefined, 'config.image: the STOPSIGNAL "SIGBOGUS"'],
          [images.busybox.ref, 99 as Signal, "config.stop_signal: 99"],
        ];
        for (const [image, stopSignal, message] of cases) {
          const err = await assertRejects(
            () =>
              client.runtime.createContainer({
                podSandboxId: podId,
                config: containerConfig("refused", image, ["true"], {
                  ...(stopSignal !== undefined ? { stopSignal } : {}),
                }),
                sandboxConfig: pod,
              }),
            CriError,
          );
          assertEquals(err.code, grpc.status.INVALID_ARGUMENT);
          assertStringIncludes(err.message, message);
          assertEquals(await leftovers(agent), before);
        }
        assertEquals((await client.runtime.listContainers({})).containers, []);
        // The config's signal overrides a STOPSIGNAL the image gets wrong.
        const { containerId } = await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("override", images.stopSignal.bogus.ref, ["true"], {
            stopSignal: Signal.SIGNAL_SIGTERM,
          }),
          sandboxConfig: pod,
        });
        await client.runtime.removeContainer({ containerId });
      },
    );
  } finally {
    await client.runtime.stopPodSandbox({ podSandboxId: podId }).catch(() => {});
    await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
  }
  assertEquals(await leftovers(agent), NOTHING);
});
