import { assertEquals } from "../testing/assert.ts";
import { fieldsOf } from "./profile.ts";

const LOG = [
  "2026-12-07T21:00:00.000Z INFO  container created podId=a mountMs=3 spare=true runcCreateMs=20.5",
  "2026-12-07T21:00:01.000Z INFO  container started containerId=a",
  "2026-12-07T21:00:02.000Z INFO  container created podId=b mountMs=5 runcCreateMs=30",
].join("\n");

Deno.test("fieldsOf() takes the …Ms fields of one message, within a time window", () => {
  assertEquals(
    [...fieldsOf(LOG, "container created")],
    [["mountMs", [3, 5]], ["runcCreateMs", [20.5, 30]]],
  );
  assertEquals(
    [...fieldsOf(LOG, "container created", "2026-12-07T21:00:01")],
    [["mountMs", [5]], ["runcCreateMs", [30]]],
  );
  assertEquals([...fieldsOf(LOG, "container created", "", "2026-12-07T21:00:01")].length, 2);
  assertEquals([...fieldsOf(LOG, "container removed")], []);
});
