/**
 * Checkpoint and restore for real (the guest's kernel 6.1 runs Debian's CRIU 3.17, which
 * this development machine's 6.18 cannot). Three containers of one pod are checkpointed
 * while they run on, the pod is removed, and each is restored into a new pod through
 * CreateContainer (image = its archive) and StartContainer:
 *
 * - a counter that also changed its rootfs (a file added, one deleted): it counts on from
 *   the number it had reached (its log carries the old lines, then the next numbers), the
 *   rootfs changes are back, and its exit is recorded as for any container;
 * - a TCP connection with both ends inside the container (over 127.0.0.1, the only kind a
 *   restore into a new pod can keep: the pod IP changes): numbers sent over it keep arriving;
 * - a tty container (its pty is the shim's; the restore gets a new one on the console socket).
 *
 * The archives are root-only.
 */
import { assert, assertEquals } from "../../testing/assert.ts";
import { ContainerState } from "../../api/gen/api.ts";
import type { ContainerConfig } from "../../api/gen/api.ts";
import type { DeepPartial } from "../harness/cri_client.ts";
import { containerConfig, leftovers, NOTHING, podConfig, readCriLog } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { onNode, sleep, step } from "./_node.ts";

const dec = new TextDecoder();
const COUNT = "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done";

/** The numbers a container printed, in order (a tty's lines come with \r). */
async function numbers(path: string): Promise<number[]> {
  const lines = await readCriLog(path).catch(() => []);
  return lines.map((l) => l.text.trim()).filter((x) => /^\d+$/.test(x)).map(
    Number,
  );
}

Deno.test(onNode(
  "checkpoint: counter, TCP and tty containers checkpointed, pod removed, restored into a new pod",
  "node",
  async (t) => {
    await using env = await nodeEnv({ driver: "cgroupfs" });
    const { agent, client, images, logRoot } = env;
    const ckptDir = `${agent.dir}/checkpoints`;
    await Deno.mkdir(ckptDir, { recursive: true });
    const configs: Record<string, DeepPartial<ContainerConfig>> = {
      counter: containerConfig("counter", images.busybox.ref, [
        "sh",
        "-c",
        `touch /marker; rm -f /bin/yes; ${COUNT}`,
      ]),
      // The server prints what arrives; the client sends the count over an open connection.
      // (The server's stdin must stay open: at its end busybox nc closes the connection.)
      tcp: containerConfig("tcp", images.busybox.ref, [
        "sh",
        "-c",
        `sleep 100000 | nc -l -p 7000 & sleep 1; (${COUNT}) | nc 127.0.0.1 7000`,
      ]),
      tty: containerConfig("tty", images.busybox.ref, ["sh", "-c", COUNT], {
        tty: true,
      }),
    };
    const names = Object.keys(configs);
    const oldPod = podConfig(logRoot, "ckpt-old");
    const newPod = podConfig(logRoot, "ckpt-new");
    const logOf = (pod: typeof oldPod, name: string) => `${pod.logDirectory}/${name}/0.log`;
    const pods: string[] = [];
    const restored: Record<string, string> = {};
    /** The restored init as the kernel and runc see it (printed: the guest's only report). */
    const facts = async (name: string) => {
      const id = restored[name]!;
      const read = (p: string) => Deno.readTextFile(p).then((x) => x.trim(), (e) => `${e}`);
      const pid = (await read(`${agent.state}/shims/${id}/init.pid`)).trim();
      const status = (await read(`/proc/${pid}/status`)).split("\n")
        .filter((l) => /^(State|PPid|NSpid):/.test(l)).join("; ");
      const cg = (await read(`/proc/${pid}/cgroup`)).replace(/^0::/, "");
      const runc = await new Deno.Command("runc", {
        args: ["--root", `${agent.state}/runc`, "state", id],
        stdout: "piped",
        stderr: "piped",
      }).output().then((o) => dec.decode(o.stdout).replace(/\s+/g, " ") + dec.decode(o.stderr));
      // deno-lint-ignore no-console -- the guest's output is the only report
      console.error(
        `=== ${name}: pid ${pid} (${status}); shim ${await read(
          `${agent.state}/shims/${id}/shim.pid`,
        )}; cgroup ${cg} freeze=${await read(`/sys/fs/cgroup${cg}/cgroup.freeze`)}; runc ${runc}`,
      );
    };
    /** Runs `fn`; on failure prints what is known, then fails. */
    const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        await diagnose(`${what}: ${err}`);
        throw err;
      }
    };
    const diagnose = async (what: string) => {
      const read = (p: string) => Deno.readTextFile(p).then((x) => x.slice(-2000), (e) => `${e}`);
      const parts = [`=== ${what}`, `--- agent\n${agent.tail(30)}`];
      for (const [name, id] of Object.entries(restored)) {
        const work = `${agent.root}/containers/${id}/checkpoint/work`;
        const errors = (await read(`${work}/restore.log`)).split("\n")
          .filter((l) => /Error|Warn/.test(l)).slice(-15).join("\n");
        parts.push(
          `--- ${name} shim.log\n${await read(
            `${agent.state}/shims/${id}/shim.log`,
          )}`,
          `--- ${name} runc.log\n${await read(
            `${agent.state}/shims/${id}/runc.log`,
          )}`,
          `--- ${name} restore.log errors\n${errors}`,
          `--- ${name} log\n${await read(logOf(newPod, name))}`,
        );
      }
      // deno-lint-ignore no-console -- the guest's output is the only report of a failure
      console.error(parts.join("\n"));
    };
    try {
      await step(t, "Status says checkpoint/restore is available", async () => {
        const info = JSON.parse(
          (await client.runtime.status({ verbose: true })).info.checkpoint!,
        );
        assertEquals(info.usable, true, JSON.stringify(info));
      });

      await step(
        t,
        "the running containers are checkpointed and keep running",
        async () => {
          await client.image.pullImage({
            image: { image: images.busybox.ref },
          });
          const podId = (await client.runtime.runPodSandbox({ config: oldPod }))
            .podSandboxId;
          pods.push(podId);
          const ids: Record<string, string> = {};
          for (const name of names) {
            ids[name] = (await client.runtime.createContainer({
              podSandboxId: podId,
              config: configs[name]!,
              sandboxConfig: oldPod,
            })).containerId;
            await client.runtime.startContainer({ containerId: ids[name]! });
          }
          for (const name of names) {
            for (
              let i = 0;
              i < 100 && (await numbers(logOf(oldPod, name))).length < 5;
              i++
            ) {
              await sleep(200);
            }
          }
          for (const name of names) {
            const location = `${ckptDir}/${name}.tar`;
            await client.runtime.checkpointContainer({
              containerId: ids[name]!,
              location,
              timeout: 120n,
            });
            const st = await Deno.stat(location);
            assertEquals(st.mode! & 0o777, 0o600, "the archive is root's only");
            assertEquals(st.uid, 0);
            const s = await client.runtime.containerStatus({
              containerId: ids[name]!,
            });
            assertEquals(
              s.status!.state,
              ContainerState.CONTAINER_RUNNING,
              name,
            );
          }
          const before = (await numbers(logOf(oldPod, "counter"))).length;
          await sleep(1000);
          assert(
            (await numbers(logOf(oldPod, "counter"))).length > before,
            "it still counts after the checkpoint",
          );
        },
      );

      await step(t, "the old pod is removed", async () => {
        const podId = pods.shift()!;
        await client.runtime.stopPodSandbox({ podSandboxId: podId });
        await client.runtime.removePodSandbox({ podSandboxId: podId });
      });

      const carried: Record<string, number[]> = {};
      await step(
        t,
        "CreateContainer from each archive in a new pod: CREATED, old log carried",
        async () => {
          const podId = (await client.runtime.runPodSandbox({ config: newPod }))
            .podSandboxId;
          pods.push(podId);
          for (const name of names) {
            const id = (await client.runtime.createContainer({
              podSandboxId: podId,
              config: {
                ...configs[name],
                image: { image: `${ckptDir}/${name}.tar` },
              },
              sandboxConfig: newPod,
            })).containerId;
            restored[name] = id;
            carried[name] = await numbers(logOf(newPod, name));
            assert(
              carried[name]!.length >= 5,
              `${name}: the old log is carried`,
            );
            assertEquals(
              (await client.runtime.containerStatus({ containerId: id }))
                .status!.state,
              ContainerState.CONTAINER_CREATED,
            );
          }
        },
      );

      const continues = async (name: string) => {
        try {
          await client.runtime.startContainer({ containerId: restored[name]! });
          const old = carried[name]!;
          const last = old.at(-1)!;
          let all: number[] = [];
          for (let i = 0; i < 60; i++) {
            all = await numbers(logOf(newPod, name));
            if (all.length >= old.length + 5) break;
            await sleep(250);
          }
          const fresh = all.slice(old.length);
          assert(
            fresh.length >= 5,
            `${name} writes again: ${JSON.stringify(all.slice(-8))}`,
          );
          // CRIU restored the shell's memory: it goes on from where it was, not from 0.
          assert(
            fresh[0]! > last - 3 && fresh[0]! <= last + 1,
            `${name} continues from ${last}: ${JSON.stringify(fresh.slice(0, 5))}`,
          );
          for (let i = 1; i < fresh.length; i++) {
            assertEquals(fresh[i], fresh[i - 1]! + 1);
          }
          const s = await client.runtime.containerStatus({
            containerId: restored[name]!,
          });
          assertEquals(s.status!.state, ContainerState.CONTAINER_RUNNING);
        } catch (err) {
          await diagnose(`${name}: ${err}`);
          throw err;
        }
      };

      await step(
        t,
        "the counter, restored, counts on from its last number; rootfs changes back",
        async () => {
          await continues("counter");
          await facts("counter");
          const pid = (await Deno.readTextFile(
            `${agent.state}/shims/${restored.counter}/init.pid`,
          )).trim();
          const cgroup = await Deno.readTextFile(`/proc/${pid}/cgroup`);
          assert(
            cgroup.includes(restored.counter!),
            `the restored process is in the new container's cgroup: ${cgroup}`,
          );
          const r = await guard("counter exec", () =>
            client.runtime.execSync({
              containerId: restored.counter!,
              cmd: [
                "sh",
                "-c",
                "test -e /marker && ! test -e /bin/yes && echo rootfs-ok",
              ],
              timeout: 20n,
            }));
          if (dec.decode(r.stdout).trim() !== "rootfs-ok") {
            await diagnose(`exec: exit ${r.exitCode}, ${dec.decode(r.stderr)}`);
          }
          assertEquals(dec.decode(r.stdout).trim(), "rootfs-ok", dec.decode(r.stderr));
          await guard(
            "counter stop",
            () => client.runtime.stopContainer({ containerId: restored.counter!, timeout: 2n }),
          );
          const after = await client.runtime.containerStatus({
            containerId: restored.counter!,
          });
          assertEquals(after.status!.state, ContainerState.CONTAINER_EXITED);
        },
      );

      await step(
        t,
        "the TCP connection inside the container survives the restore",
        async () => {
          await continues("tcp");
        },
      );

      await step(
        t,
        "the tty container, restored on a new pty, counts on",
        async () => {
          await continues("tty");
        },
      );

      await step(t, "nothing is left once the pod is removed", async () => {
        const podId = pods.shift()!;
        await client.runtime.stopPodSandbox({ podSandboxId: podId });
        await client.runtime.removePodSandbox({ podSandboxId: podId });
        assertEquals(await leftovers(agent), NOTHING);
      });
    } finally {
      for (const p of pods) {
        const bounded = (x: Promise<unknown>) => Promise.race([x.catch(() => {}), sleep(30_000)]);
        await bounded(client.runtime.stopPodSandbox({ podSandboxId: p }));
        await bounded(client.runtime.removePodSandbox({ podSandboxId: p }));
      }
    }
  },
));
