// test-permissions: --allow-read=deno.json
/**
 * deno.json's permission sets are exactly the rendering of deploy/permissions.ts, and
 * keep their promises: no set is -A, the test set differs from the agent's only by /tmp,
 * and the shim's set is narrower than the agent's in every kind.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import {
  agentSet,
  type Grant,
  NODE_LAYOUT,
  type PermissionSet,
  permissionSets,
  readPermissions,
  shimSet,
  withPermissions,
} from "./permissions.ts";

const text = await Deno.readTextFile(new URL("../deno.json", import.meta.url));
const sets = readPermissions(text);
const KINDS = ["read", "write", "run", "env", "net", "sys", "ffi"] as const;

/** Whether everything `a` grants, `b` grants too. */
function within(a: Grant | undefined, b: Grant | undefined): boolean {
  if (a === undefined || a === false) return true;
  if (b === true) return true;
  if (a === true) return false;
  const bs = Array.isArray(b) ? b : [];
  return a.every((x) => bs.some((y) => x === y || x.startsWith(`${y}/`)));
}

Deno.test("deno.json holds exactly the sets deploy/permissions.ts renders", () => {
  assert(
    text === withPermissions(text, permissionSets()),
    "deno.json permissions are stale: deno run --allow-read --allow-write=deno.json deploy/permissions.ts --write",
  );
});

Deno.test("no permission set is --allow-all", () => {
  for (const [name, set] of Object.entries(sets)) {
    assert(!("all" in set), `${name} grants all`);
    for (const key of Object.keys(set)) {
      assert((KINDS as readonly string[]).includes(key), `${name} has an unknown kind ${key}`);
    }
  }
});

Deno.test("the agent writes only its own directories, the pod logs, cgroupfs and the kubelet's checkpoints", () => {
  assertEquals(sets.agent?.write, [
    "/var/lib/sauropod",
    "/run/sauropod",
    "/var/log/pods",
    "/sys/fs/cgroup",
    "/var/lib/kubelet/checkpoints",
  ]);
});

Deno.test("the agent runs only the OCI runtime, CNI plugins, unshare, nsenter, apparmor_parser, criu and Deno", () => {
  const run = sets.agent?.run;
  assert(Array.isArray(run));
  const named = [
    "runc",
    "/usr/bin/crun",
    "unshare",
    "nsenter",
    "/usr/sbin/apparmor_parser",
    "/sbin/apparmor_parser",
    "/usr/sbin/criu",
  ];
  for (const prog of run) {
    assert(
      named.includes(prog) || prog.endsWith("/deno") ||
        /^\/(opt\/cni\/bin|usr\/lib\/cni)\/[a-z-]+$/.test(prog),
      `unexpected program ${prog}`,
    );
  }
  assert(!run.some((p) => /(^|\/)(sh|bash|env|sudo|mount)$/.test(p)));
});

Deno.test("agent-test is the agent's set plus writes under /tmp, nothing else", () => {
  const agent = sets.agent!;
  const test = sets["agent-test"]!;
  assertEquals({ ...test, write: undefined }, { ...agent, write: undefined });
  assertEquals(test.write, [...(agent.write as string[]), "/tmp"]);
});

Deno.test("the shim's set is narrower than the agent's in every kind", () => {
  const shim = sets.shim!;
  const agent = sets.agent!;
  for (const kind of KINDS) {
    assert(within(shim[kind], agent[kind]), `shim.${kind} is not within agent.${kind}`);
  }
  // Strictly narrower where it matters: it reads and runs less, writes no cgroupfs or root.
  assert(!within(agent.read, shim.read) && !within(agent.run, shim.run));
  assert(!within(agent.write, shim.write));
  assertEquals(shim.run, ["runc", "/usr/bin/crun"]);
  assertEquals([shim.env, shim.sys], [undefined, undefined]);
});

Deno.test("agentSet() and shimSet() follow the layout they are given", () => {
  const layout = { ...NODE_LAYOUT, root: "/srv/s", state: "/run/s", cniBinDirs: ["/x"] };
  const a: PermissionSet = agentSet(layout);
  assert((a.write as string[]).includes("/srv/s") && (a.write as string[]).includes("/run/s"));
  assert((a.run as string[]).includes("/x/bridge"));
  assert(!(a.run as string[]).some((p) => p.startsWith("/usr/lib/cni/")));
  assertEquals(shimSet(layout).write, ["/run/s", "/var/log/pods"]);
  assertEquals(shimSet(layout).read, ["/run/s"]);
});

Deno.test("withPermissions() replaces only the permissions object", () => {
  const before =
    '{\n  "a": 1,\n  "permissions": {\n    "x": { "read": true }\n  },\n  "b": [2]\n}\n';
  const after = withPermissions(before, { y: { write: ["/w"] } });
  assertEquals(JSON.parse(after), { a: 1, permissions: { y: { write: ["/w"] } }, b: [2] });
  assert(after.startsWith('{\n  "a": 1,\n  "permissions": {') && after.endsWith('  "b": [2]\n}\n'));
});
