// Root tests with the real CNI plugins of Debian's containernetworking-plugins. Each test
// builds its own world (NetEnv): conf dir, bridge, subnet, IPAM dir, ns root; nothing is
// routed or NATed, so no traffic leaves the machine.
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { unmount } from "../ffi/mount.ts";
import { CniPluginError } from "./_invoke.ts";
import { bandwidthFromAnnotations } from "./bandwidth.ts";
import { pinNamespaces } from "./namespaces.ts";
import { NetEnv, sh, skipReason, trySh } from "./_test_env.ts";
import { readInterfaceStats } from "./stats.ts";

const skip = skipReason();
// Load libc for the mount calls now, so the resource sanitizer does not pin it on a test.
if (!skip) unmount("/nonexistent/sauropod-warm-up");
const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: skip ? `${name} (skipped: ${skip})` : name, ignore: skip !== undefined, fn });

const ping = (netns: string, ip: string) =>
  sh("nsenter", `--net=${netns}`, "--", "busybox", "ping", "-c", "1", "-W", "5", ip);

/** Waits for a condition the kernel settles asynchronously (netns teardown). */
async function settled(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not settle within 10 s`);
}

test("two pods on the bridge get distinct IPs, reach each other, and leave nothing behind", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin(), {
    type: "portmap",
    capabilities: { portMappings: true },
  }]);
  const cni = env.manager();
  assertEquals(await cni.status(), { ready: true });

  const a = await env.pin("poda");
  const b = await env.pin("podb");
  const ra = await cni.setUp(env.request("poda", a.net!));
  const rb = await cni.setUp(env.request("podb", b.net!));
  assertEquals(ra.network, env.network);
  assertEquals(ra.ips.length, 1);
  assertEquals(rb.ips.length, 1);
  assertNotEquals(ra.ips[0], rb.ips[0]);
  assertMatch(ra.ips[0]!, new RegExp(`^${env.subnet.split(".").slice(0, 3).join("\\.")}\\.`));
  const eth0 = ra.interfaces.find((i) => i.name === "eth0");
  assertEquals(eth0?.sandbox, a.net);
  assertEquals((await env.veths()).length, 2);
  assertEquals((await env.reservations()).sort(), [...ra.ips, ...rb.ips].sort());
  assertEquals(await cni.attachedPods(), ["poda", "podb"]);

  const before = await readInterfaceStats(a.net!);
  await ping(a.net!, rb.ips[0]!);
  await ping(b.net!, ra.ips[0]!);
  const after = await readInterfaceStats(a.net!);
  const e0 = before.interfaces.find((i) => i.name === "eth0")!;
  const e1 = after.interfaces.find((i) => i.name === "eth0")!;
  assert(e1.txBytes > e0.txBytes, `eth0 tx bytes rose (${e0.txBytes} → ${e1.txBytes})`);
  assert(e1.rxBytes > e0.rxBytes, `eth0 rx bytes rose (${e0.rxBytes} → ${e1.rxBytes})`);
  assert(after.timestampNs > before.timestampNs);
  // The loopback plugin (appended because the list has none) brought lo up.
  await ping(a.net!, "127.0.0.1");

  await cni.tearDown(env.request("poda", a.net!));
  await cni.tearDown(env.request("podb", b.net!));
  await cni.tearDown(env.request("podb", b.net!)); // idempotent
  await env.unpin("poda");
  await env.unpin("podb");
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
  assertEquals(await cni.attachedPods(), []);
  assertEquals(await env.nsEntries(), []);
  assertEquals(await env.nsMounts(), []);
});

test("a dual-stack network gives the pod an IPv4 (first) and an IPv6 address", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin({ dualStack: true })]);
  const cni = env.manager();
  const a = await env.pin("dual");
  const r = await cni.setUp(env.request("dual", a.net!));
  assertEquals(r.ips.length, 2);
  assert(!r.ips[0]!.includes(":"), `IPv4 first: ${r.ips}`);
  assert(r.ips[1]!.startsWith(env.subnet6.split("::")[0]!), `IPv6 second: ${r.ips}`);
  await cni.tearDown({ podId: "dual" });
  assertEquals(await env.reservations(), []);
});

test("a 0.4.0 network config works end to end, with prevResult on DEL", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin(), {
    type: "portmap",
    capabilities: { portMappings: true },
  }], "0.4.0");
  const cni = env.manager();
  const a = await env.pin("old");
  const r = await cni.setUp(env.request("old", a.net!));
  assertEquals(r.ips.length, 1);
  await cni.tearDown({ podId: "old" });
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
});

test("port mappings reach the portmap plugin and its rules go away on DEL", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin(), {
    type: "portmap",
    capabilities: { portMappings: true },
  }]);
  const cni = env.manager();
  const a = await env.pin("ports");
  const hostPort = 20000 + (crypto.getRandomValues(new Uint16Array(1))[0]! % 20000);
  const r = await cni.setUp(env.request("ports", a.net!, {
    portMappings: [{ protocol: "tcp", containerPort: 80, hostPort, hostIp: "" }],
  }));
  const rules = await env.portmapRules();
  assertEquals(rules.length, 1, `one DNAT jump for the pod: ${rules.join("\n")}`);
  assertStringIncludes(rules[0]!, `id: \\"ports\\"`);
  const chain = rules[0]!.match(/-j (CNI-DN-\w+)/)![1]!;
  const dnat = await sh("iptables", "-w", "-t", "nat", "-S", chain);
  assertStringIncludes(dnat, `--dport ${hostPort} -j DNAT --to-destination ${r.ips[0]}:80`);

  await cni.tearDown({ podId: "ports" });
  assertEquals(await env.portmapRules(), []);
  assertEquals(await trySh("iptables", "-w", "-t", "nat", "-S", chain), undefined);
});

test("bandwidth limits reach the bandwidth plugin, which shapes the pod's veth", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin(), {
    type: "bandwidth",
    capabilities: { bandwidth: true },
  }]);
  const cni = env.manager();
  const a = await env.pin("bw");
  await cni.setUp(env.request("bw", a.net!, {
    bandwidth: bandwidthFromAnnotations({
      "kubernetes.io/ingress-bandwidth": "10M",
      "kubernetes.io/egress-bandwidth": "5M",
    })!,
  }));
  const [veth] = await env.veths();
  assert(veth, "the pod has a host-side veth");
  const name = veth.split("@")[0]!;
  assertStringIncludes(await sh("tc", "qdisc", "show", "dev", name), "tbf");
  const ifbs = (await sh("ip", "-o", "link", "show", "type", "ifb")).split("\n")
    .filter((l) => l.includes("bwp"));
  assertEquals(ifbs.length, 1, "an ifb device shapes the pod's egress");
  const ifb = ifbs[0]!.split(":")[1]!.trim();
  await cni.tearDown({ podId: "bw" });
  assertEquals(await trySh("ip", "link", "show", ifb), undefined, "the ifb device is gone");
});

test("the pod CIDR from UpdateRuntimeConfig reaches host-local through ipRanges", async () => {
  await using env = await NetEnv.create();
  const plugin = env.bridgePlugin();
  await env.writeConf([{
    ...plugin,
    capabilities: { ipRanges: true },
    ipam: { type: "host-local", dataDir: env.ipamDir },
  }]);
  const cni = env.manager();
  cni.updatePodCidr(env.subnet);
  const a = await env.pin("cidr");
  const r = await cni.setUp(env.request("cidr", a.net!));
  assert(r.ips[0]!.startsWith(env.subnet.slice(0, env.subnet.lastIndexOf(".") + 1)), `${r.ips}`);
  await cni.tearDown({ podId: "cidr" });
  assertEquals(await env.reservations(), []);
});

test("a host-network pod gets no netns and sees the node's interfaces", async () => {
  await using env = await NetEnv.create();
  const hostname = (await Deno.readTextFile("/proc/sys/kernel/hostname")).trim();
  const pinned = await pinNamespaces({
    dir: `${env.nsRoot}/hostnet`,
    net: false,
    ipc: true,
    uts: false,
    hostname: "must-not-be-set",
  });
  try {
    assertEquals(pinned.net, undefined);
    assertEquals(pinned.uts, undefined);
    assert(pinned.ipc);
    const names = (text: string) =>
      text.split("\n").slice(2).map((l) => l.split(":")[0]!.trim()).filter((n) => n).sort();
    const inside = await sh("nsenter", `--ipc=${pinned.ipc}`, "--", "cat", "/proc/net/dev");
    const node = await Deno.readTextFile("/proc/net/dev");
    assertEquals(names(inside), names(node));
    assert(names(inside).length > 1, "the node has more than lo");
    assertEquals((await Deno.readTextFile("/proc/sys/kernel/hostname")).trim(), hostname);
  } finally {
    await env.unpin("hostnet");
  }
});

test("a failing plugin fails setUp with its own message quoted and leaves nothing", async () => {
  await using env = await NetEnv.create();
  // host-local cannot parse this subnet; bridge has already made the veth by then.
  await env.writeConf([env.bridgePlugin({ subnet: "10.99.300.0/24" })]);
  const cni = env.manager();
  const a = await env.pin("bad");
  const err = await assertRejects(
    () => cni.setUp(env.request("bad", a.net!)),
    SauropodError,
    `cannot attach pod "bad" to CNI network "${env.network}": CNI plugin "bridge" failed ADD`,
  );
  assertStringIncludes(err.message, "10.99.300.0/24");
  assertMatch(err.message, /code \d+: "/);
  let cause: unknown = err;
  while (cause instanceof Error && !(cause instanceof CniPluginError)) cause = cause.cause;
  assert(cause instanceof CniPluginError, "the plugin's error is in the cause chain");
  assertEquals(cause.plugin, "bridge");
  assertEquals(cause.command, "ADD");
  // bridge's DEL trips over the same subnet; the record is dropped anyway (nobody retries).
  assertStringIncludes(err.message, "cleaning up failed too");
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
  assertEquals(await cni.attachedPods(), []);
  const inside = await sh("nsenter", `--net=${a.net}`, "--", "cat", "/proc/net/dev");
  assert(!inside.includes("eth0:"), "no eth0 left in the netns");
  await env.unpin("bad");
  assertEquals(await env.nsEntries(), []);
});

test("a plugin that hangs on ADD is killed at the timeout and nothing stays", async () => {
  await using env = await NetEnv.create();
  const marker = `31.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  // Not exec: the sleep is a grandchild, which the process-group kill must reach too.
  await env.fakePlugin(
    "sleepy",
    `if [ "$CNI_COMMAND" = ADD ]; then sleep ${marker}; fi\ncat >/dev/null\nexit 0`,
  );
  await env.writeConf([env.bridgePlugin(), { type: "sleepy" }]);
  const cni = env.manager(1);
  const a = await env.pin("hang");
  const err = await assertRejects(
    () => cni.setUp(env.request("hang", a.net!)),
    SauropodError,
    'CNI plugin "sleepy" (ADD, network',
  );
  assertEquals(err.kind, "deadline-exceeded");
  assertStringIncludes(err.message, "did not finish within 1s and was killed");
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
  assertEquals(await cni.attachedPods(), []);
  assertEquals(await processesWithArg(marker), [], "no sleep left running");
});

test("setUp canceled by its caller kills the plugin and undoes the attachment", async () => {
  await using env = await NetEnv.create();
  const started = `${env.tmp}/started`;
  await env.fakePlugin(
    "waiter",
    `if [ "$CNI_COMMAND" = ADD ]; then touch ${started}; sleep 30; fi\ncat >/dev/null`,
  );
  await env.writeConf([env.bridgePlugin(), { type: "waiter" }]);
  const cni = env.manager(60);
  const a = await env.pin("cancel");
  const ac = new AbortController();
  const run = cni.setUp(env.request("cancel", a.net!), ac.signal);
  const outcome = run.then(() => undefined, (e: unknown) => e);
  await settled(async () => await Deno.stat(started).then(() => true, () => false), "plugin start");
  ac.abort();
  const err = await outcome;
  assert(err instanceof SauropodError, `setUp failed: ${err}`);
  assertEquals(err.kind, "canceled");
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
  assertEquals(await cni.attachedPods(), []);
});

test("a plugin that hangs on DEL fails tearDown, the others still clean up, and a retry succeeds", async () => {
  await using env = await NetEnv.create();
  await env.fakePlugin(
    "stuck",
    `if [ "$CNI_COMMAND" = DEL ]; then sleep 30; fi
cat >/dev/null
echo '{"cniVersion":"1.0.0","interfaces":[],"ips":[]}'`,
  );
  // First in the list, so its DEL runs last: the real plugins' DELs come before it.
  await env.writeConf([{ type: "stuck" }, env.bridgePlugin()]);
  const cni = env.manager(1);
  const a = await env.pin("stuck");
  await cni.setUp(env.request("stuck", a.net!));
  const err = await assertRejects(
    () => cni.tearDown({ podId: "stuck" }),
    SauropodError,
    'CNI plugin "stuck" (DEL, network',
  );
  assertEquals(err.kind, "deadline-exceeded");
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
  assertEquals(await cni.attachedPods(), ["stuck"], "kept for a retry");
  await env.fakePlugin("stuck", "exit 0");
  await cni.tearDown({ podId: "stuck" });
  assertEquals(await cni.attachedPods(), []);
});

test("DEL after the netns was removed still releases the IP and the port rules", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin(), {
    type: "portmap",
    capabilities: { portMappings: true },
  }]);
  const cni = env.manager();
  const a = await env.pin("gone");
  await cni.setUp(env.request("gone", a.net!, {
    portMappings: [{ protocol: "udp", containerPort: 53, hostPort: 45353, hostIp: "" }],
  }));
  await env.unpin("gone");
  await cni.tearDown({ podId: "gone", netnsPath: a.net! });
  assertEquals(await env.reservations(), []);
  assertEquals(await env.portmapRules(), []);
  assertEquals(await cni.attachedPods(), []);
  // The veth died with its netns; the kernel reaps it asynchronously.
  await settled(async () => (await env.veths()).length === 0, "veth removal");
});

test("20 pods set up and torn down concurrently get distinct IPs and leak nothing", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin(), {
    type: "portmap",
    capabilities: { portMappings: true },
  }]);
  const cni = env.manager(60);
  const ids = Array.from({ length: 20 }, (_, i) => `many${i}`);
  const pins = await Promise.all(ids.map((id) => env.pin(id)));
  const results = await Promise.all(
    ids.map((id, i) => cni.setUp(env.request(id, pins[i]!.net!))),
  );
  const ips = results.map((r) => r.ips[0]!);
  assertEquals(new Set(ips).size, 20, `distinct IPs: ${ips.join(" ")}`);
  assertEquals((await env.veths()).length, 20);
  assertEquals((await env.reservations()).length, 20);
  await ping(pins[0]!.net!, ips[19]!);

  await Promise.all(ids.map((id) => cni.tearDown({ podId: id })));
  await Promise.all(ids.map((id) => env.unpin(id)));
  assertEquals(await env.veths(), []);
  assertEquals(await env.reservations(), []);
  assertEquals(await cni.attachedPods(), []);
  assertEquals(await env.nsEntries(), []);
  assertEquals(await env.nsMounts(), []);
});

test("a changed config applies to new pods while old pods are deleted with theirs", async () => {
  await using env = await NetEnv.create();
  await env.writeConf([env.bridgePlugin()]);
  const cni = env.manager();
  const a = await env.pin("v1");
  await cni.setUp(env.request("v1", a.net!));
  // A different IPAM dir in the new config: DEL must still use the one from ADD.
  const other = {
    ...env.bridgePlugin(),
    ipam: { type: "host-local", ranges: [[{ subnet: env.subnet }]], dataDir: `${env.tmp}/ipam2` },
  };
  await env.writeConf([other]);
  await cni.tearDown({ podId: "v1" });
  assertEquals(await env.reservations(), []);
  await Deno.remove(`${env.tmp}/ipam2`, { recursive: true }).catch(() => {});
});

async function processesWithArg(arg: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmdline.split("\0").includes(arg)) out.push(Number(e.name));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}
