/**
 * `systemd-analyze verify` on the shipped unit. systemd need not be PID 1 for this: the
 * tool loads the unit and its dependencies from disk. Its exit code stays 0 for unknown
 * keys and unparsable values (it only warns), so any line naming the unit fails the test.
 */
import { assertEquals } from "../testing/assert.ts";
import { verifySkipReason, verifyUnit } from "./testing/systemd.ts";

const UNIT = new URL("./sauropod.service", import.meta.url).pathname;
const skip = await verifySkipReason();

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: skip ? `${name} (skipped: ${skip})` : name, ignore: skip !== undefined, fn });
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
