/**
 * `systemd-analyze verify` on the shipped unit. systemd need not be PID 1 for this: the
 * tool loads the unit and its dependencies from disk. Its exit code stays 0 for unknown
 * keys and unparsable values (it only warns), so any line naming the unit fails the test.
 */
import { assertEquals } from "../testing/assert.ts";

const UNIT = new URL("./sauropod.service", import.meta.url).pathname;

async function which(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      await Deno.stat(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

const analyze = await which("systemd-analyze");
const skip = analyze ? undefined : "systemd-analyze is not installed (apt-get install systemd)";

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: skip ? `${name} (skipped: ${skip})` : name, ignore: skip !== undefined, fn });
}

/** Runs `systemd-analyze verify` and returns its complaints about `unit`. */
export async function verifyUnit(unit: string): Promise<{ code: number; complaints: string[] }> {
  const out = await new Deno.Command(analyze!, {
    args: ["verify", unit],
    stdout: "piped",
    stderr: "piped",
    // Piped output would otherwise go to the journal, where there is one.
    env: { SYSTEMD_LOG_COLOR: "0", SYSTEMD_LOG_TARGET: "console" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const name = unit.slice(unit.lastIndexOf("/") + 1);
  return {
    code: out.code,
    complaints: text.split("\n").filter((l) => l.includes(name) || l.includes(unit)),
  };
}

test("systemd-analyze verify finds nothing wrong with deploy/sauropod.service", async () => {
  const { code, complaints } = await verifyUnit(UNIT);
  assertEquals(complaints, []);
  assertEquals(code, 0);
});

test("systemd-analyze verify catches a broken copy of the unit (the check can fail)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-unit-" });
  try {
    const broken = (await Deno.readTextFile(UNIT)).replace(
      "\nKillMode=process\n",
      "\nKillMode=nope\n",
    );
    await Deno.writeTextFile(`${dir}/sauropod.service`, broken);
    const { complaints } = await verifyUnit(`${dir}/sauropod.service`);
    assertEquals(complaints.length, 1, complaints.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
