/**
 * crun as the OCI runtime (`runtime.binary = "crun"`), with the systemd cgroup driver as on
 * the nodes that run it (OpenShift, Fedora CoreOS): a pod and a container run, exec works,
 * stats come from the container's scope although crun puts the process one level down (its
 * `container` sub-cgroup, which a watcher of the process's own cgroup must look past to
 * see OOM kills), an OOM kill is reported, and stop and remove leave nothing behind.
 */
import { assert, assertEquals, assertMatch } from "../../testing/assert.ts";
import { ContainerState } from "../../api/gen/api.ts";
import { containerConfig, eventually, leftovers, NOTHING, podConfig } from "../harness/pods.ts";
import { nodeEnv } from "./_env.ts";
import { cgroupExists, cgroupOf, onNode, run, shimLog, step, unitProps } from "./_node.ts";
import { kubeletSlices } from "./_slices.ts";

const MiB = 1n << 20n;
const apparmorEnabled = () =>
  Deno.readTextFile("/sys/module/apparmor/parameters/enabled").then(
    (t) => t.startsWith("Y"),
    () => false,
  );
const dec = new TextDecoder();

Deno.test(onNode(
  "crun as the runtime: run, exec, stats, OOMKilled, stop, remove (systemd driver)",
  "disposable",
  async (t) => {
    const uid = crypto.randomUUID();
    await using slices = await kubeletSlices(uid);
    await using env = await nodeEnv({ driver: "systemd", runtime: "crun" });
    const { agent, client, images, logRoot } = env;
    const pod = podConfig(logRoot, "crun");
    pod.metadata = { ...pod.metadata, uid };
    pod.linux = { ...pod.linux, cgroupParent: slices.cgroupParent };
    const scope = (id: string) => `${slices.cgroupParent}/cri-sauropod-${id}.scope`;
    const crunList = async () =>
      (await run("crun", ["--root", agent.runcRoot, "list", "-q"])).stdout.split("\n")
        .filter(Boolean);
    let podId = "";
    let id = "";
    try {
      await step(t, "a pod and a container run under crun", async () => {
        await client.image.pullImage({ image: { image: images.busybox.ref } });
        podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
        id = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("sleeper", images.busybox.ref, ["sleep", "100000"], {
            linux: { resources: { memoryLimitInBytes: 64n * MiB } },
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: id });
        const st = (await client.runtime.containerStatus({ containerId: id })).status!;
        assertEquals(st.state, ContainerState.CONTAINER_RUNNING);
        assert((await crunList()).includes(id), "crun lists the container");
        const pid = Number((await Deno.readTextFile(`${agent.state}/shims/${id}/init.pid`)).trim());
        const cg = await cgroupOf(pid);
        assert(cg.startsWith(`${scope(id)}/`) || cg === scope(id), `${cg} is in ${scope(id)}`);
        const unit = await unitProps(`cri-sauropod-${id}.scope`, ["ActiveState", "Slice"]);
        assertEquals(unit, { ActiveState: "active", Slice: slices.podSlice });
      });

      await step(t, "ExecSync runs in the container", async () => {
        const r = await client.runtime.execSync({
          containerId: id,
          cmd: ["sh", "-c", "echo hello from $(cat /etc/os-release | head -1); exit 3"],
          timeout: 30,
        });
        assertEquals(dec.decode(r.stdout), 'hello from NAME="sauropod test busybox"\n');
        assertEquals(r.exitCode, 3);
        // crun confines the exec'd process as runc does, from the container's spec.
        if (await apparmorEnabled()) {
          const aa = await client.runtime.execSync({
            containerId: id,
            cmd: ["cat", "/proc/self/attr/current"],
            timeout: 30,
          });
          assertMatch(dec.decode(aa.stdout).trim(), /^sauropod-default-[0-9a-f]{12} \(enforce\)$/);
        }
      });

      await step(t, "ContainerStats reads the container's scope", async () => {
        const s = (await client.runtime.containerStats({ containerId: id })).stats!;
        assert((s.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, "cpu usage");
        const ws = s.memory?.workingSetBytes?.value ?? 0n;
        assert(ws > 0n && ws <= 64n * MiB, `working set ${ws}`);
      });

      await step(t, "a container over its memory limit is OOMKilled under crun", async () => {
        const hog = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("hog", images.busybox.ref, [
            "sh",
            "-c",
            "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
          ], {
            linux: {
              resources: { memoryLimitInBytes: 32n * MiB, memorySwapLimitInBytes: 32n * MiB },
            },
          }),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: hog });
        const st = await eventually("the hog to exit", async () => {
          const s = (await client.runtime.containerStatus({ containerId: hog })).status!;
          return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
        }, 120_000);
        assertEquals(
          [st.reason, st.exitCode],
          ["OOMKilled", 137],
          await shimLog(agent.state, hog),
        );
        await client.runtime.removeContainer({ containerId: hog });
      });

      await step(t, "StopContainer and RemoveContainer end it; crun forgets it", async () => {
        await client.runtime.stopContainer({ containerId: id, timeout: 2 });
        const st = (await client.runtime.containerStatus({ containerId: id })).status!;
        assertEquals(st.state, ContainerState.CONTAINER_EXITED);
        // sleep is PID 1 of its namespace and ignores SIGTERM: the grace period ends in SIGKILL.
        assertEquals(st.exitCode, 137);
        await client.runtime.removeContainer({ containerId: id });
        assertEquals(await crunList(), []);
        assert(!(await cgroupExists(scope(id))), `${scope(id)} is gone`);
        await client.runtime.removePodSandbox({ podSandboxId: podId });
        podId = "";
        assertEquals(await leftovers(agent), NOTHING);
      });
    } finally {
      if (podId) await client.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
    }
  },
));
