// test-permissions: --allow-read=deploy
/**
 * The shipped systemd unit says what an operator who knows containerd's and CRI-O's units
 * expects: notify type, a watchdog, process-only kill mode so containers survive a
 * restart, delegation, high limits, and the agent's explicit permission set (never -A).
 */
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";

/** `[Section]` → key → every value assigned (systemd allows repeats, e.g. Environment=). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = out.get(head[1]!) ?? new Map();
      out.set(head[1]!, section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq <= 0) throw new Error(`not a unit file line: ${raw}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

const unit = parseUnit(
  await Deno.readTextFile(new URL("./sauropod.service", import.meta.url)),
);
const service = unit.get("Service")!;
const one = (key: string): string | undefined => {
  const v = service.get(key);
  assert(!v || v.length === 1, `${key}= is set ${v?.length} times`);
  return v?.[0];
};

Deno.test("sauropod.service is Type=notify and accepts notifications from the agent only", () => {
  assertEquals(one("Type"), "notify");
  assertEquals(one("NotifyAccess"), "main");
});

Deno.test("sauropod.service keeps shims and containers across a stop or restart", () => {
  assertEquals(one("KillMode"), "process");
  assertEquals(one("Delegate"), "yes");
  assertEquals(one("Restart"), "always");
});

Deno.test("sauropod.service sets a watchdog, limits and the OOM score of a node daemon", () => {
  assertMatch(one("WatchdogSec") ?? "", /^\d+s$/);
  assertEquals(one("LimitNOFILE"), "1048576");
  assertEquals(one("OOMScoreAdjust"), "-999");
  assertEquals(one("TasksMax"), "infinity");
});

Deno.test("sauropod.service runs the agent with its explicit permission set, never -A", () => {
  const exec = one("ExecStart") ?? "";
  const argv = exec.split(/\s+/);
  assert(argv[0]!.startsWith("/") && argv[0]!.endsWith("/deno"), exec);
  assertEquals(argv[1], "run");
  assert(argv.includes("-P=agent"), exec);
  assert(!argv.some((a) => a === "-A" || a.startsWith("--allow-")), exec);
  assert(argv.includes("--cached-only"), "a restart must not download code");
  const main = argv.findIndex((a) => a.endsWith("/main.ts"));
  assertEquals(argv.slice(main + 1), ["serve", "--config", "/etc/sauropod/config.toml"]);
});

Deno.test("sauropod.service is wanted by multi-user.target and starts after the network", () => {
  assertEquals(unit.get("Install")?.get("WantedBy"), ["multi-user.target"]);
  assert(unit.get("Unit")?.get("After")?.[0]?.includes("network-online.target"));
});
