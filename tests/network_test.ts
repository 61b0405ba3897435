/**
 * Pod networking through the CRI with the real CNI plugins: distinct IPs that reach each
 * other (pod-to-pod only), a host-network pod seeing the node's interfaces, NetworkReady
 * following the config dir, a broken network leaving nothing behind, and no veth,
 * namespace or IPAM reservation after removal.
 */
import * as grpc from "@grpc/grpc-js";
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "../testing/assert.ts";
import { NamespaceMode } from "../api/gen/api.ts";
import { CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig, runContainer } from "./harness/pods.ts";

const dec = new TextDecoder();

async function vethsOn(bridge: string): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["-o", "link", "show", "master", bridge] })
    .output();
  return dec.decode(out.stdout).split("\n").filter(Boolean);
}

async function ipamFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const net of Deno.readDir(dir)) {
      for await (const f of Deno.readDir(`${dir}/${net.name}`)) {
        if (/^\d+\.\d+\.\d+\.\d+$/.test(f.name)) out.push(f.name);
      }
    }
  } catch {
    // no reservations yet
  }
  return out;
}

Deno.test("network: two pods get distinct IPs and reach each other; removal leaves nothing", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot, network } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pods = await Promise.all(["left", "right"].map(async (name) => {
    const pod = podConfig(logRoot, name);
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const ip = (await client.runtime.podSandboxStatus({ podSandboxId: podId })).status!.network!.ip;
    const ctrId = await runContainer(
      client,
      podId,
      containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
      pod,
    );
    return { podId, ip, ctrId };
  }));
  const [a, b] = pods as [typeof pods[0], typeof pods[0]];
  assertNotEquals(a.ip, b.ip);
  for (const p of pods) {
    assert(p.ip.startsWith(network.subnet.split(".").slice(0, 3).join(".")), p.ip);
  }

  const ping = await client.runtime.execSync({
    containerId: a.ctrId,
    cmd: ["ping", "-c", "1", "-W", "5", b.ip],
    timeout: 15,
  });
  assertEquals(ping.exitCode, 0, dec.decode(ping.stdout) + dec.decode(ping.stderr));
  const iface = await client.runtime.execSync({
    containerId: b.ctrId,
    cmd: ["ip", "-o", "-4", "addr"],
    timeout: 10,
  });
  assertStringIncludes(dec.decode(iface.stdout), b.ip);
  assertEquals((await vethsOn(network.bridge)).length, 2);

  for (const p of pods) await client.runtime.removePodSandbox({ podSandboxId: p.podId });
  assertEquals(await vethsOn(network.bridge), []);
  assertEquals(await ipamFiles(`${network.confDir}/../ipam`), []);
  assertEquals(await leftovers(env.agent), NOTHING);
});

Deno.test("network: a host-network pod sees the node's interfaces", async () => {
  await using env = await e2eEnv();
  const { client, images, logRoot } = env;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "hostnet", {
    linux: {
      securityContext: {
        namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER },
      },
    },
  });
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const ctrId = await runContainer(
    client,
    podId,
    containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
    pod,
  );
  const inside = dec.decode(
    (await client.runtime.execSync({
      containerId: ctrId,
      cmd: ["cat", "/proc/net/dev"],
      timeout: 10,
    })).stdout,
  );
  const node = await Deno.readTextFile("/proc/net/dev");
  const names = (t: string) =>
    t.split("\n").slice(2).map((l) => l.split(":")[0]!.trim()).filter(Boolean).sort();
  assertEquals(names(inside), names(node));
  assertEquals(
    (await client.runtime.podSandboxStatus({ podSandboxId: podId })).status?.network?.ip,
    "",
  );
  await client.runtime.removePodSandbox({ podSandboxId: podId });
  assertEquals(await leftovers(env.agent), NOTHING);
});

Deno.test("network: a broken network config fails RunPodSandbox with the plugin's message and leaves nothing", async () => {
  await using env = await e2eEnv();
  const { client, logRoot, network } = env;
  const file = `${network.confDir}/10-e2e.conflist`;
  const good = await Deno.readTextFile(file);
  await Deno.writeTextFile(file, good.replace(network.subnet, "10.999.0.0/24"));
  const ready = await client.runtime.status({});
  assertEquals(ready.status?.conditions.find((c) => c.type === "NetworkReady")?.status, true);
  const err = await assertRejects(
    () => client.runtime.runPodSandbox({ config: podConfig(logRoot, "broken") }),
    CriError,
  );
  assertStringIncludes(err.details, "10.999.0.0/24");
  assertEquals((await client.runtime.listPodSandbox({})).items.length, 0);
  assertEquals(await vethsOn(network.bridge).catch(() => []), []);
  assertEquals(await leftovers(env.agent), NOTHING);

  // No config at all: NetworkReady=false, and pods that need a network are refused.
  await Deno.remove(file);
  const st = await client.runtime.status({});
  const nr = st.status?.conditions.find((c) => c.type === "NetworkReady");
  assertEquals(nr?.status, false);
  assert(nr?.reason);
  const err2 = await assertRejects(
    () => client.runtime.runPodSandbox({ config: podConfig(logRoot, "nonet") }),
    CriError,
  );
  assertEquals(err2.code, grpc.status.FAILED_PRECONDITION);
  assertEquals(await leftovers(env.agent), NOTHING);
});
