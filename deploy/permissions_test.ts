// test-permissions: --allow-read=deno.json
/**
 * deno.json's permission sets are exactly the rendering of deploy/permissions.ts: one set,
 * where the CLI starts, which writes, runs and connects nothing (the agent's own grants are
 * computed from its config: app/permissions_test.ts).
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { permissionSets, readPermissions, withPermissions } from "./permissions.ts";

const text = await Deno.readTextFile(new URL("../deno.json", import.meta.url));
const sets = readPermissions(text);

Deno.test("deno.json holds exactly the sets deploy/permissions.ts renders", () => {
  assert(
    text === withPermissions(text, permissionSets()),
    "deno.json permissions are stale: deno run --allow-read --allow-write=deno.json deploy/permissions.ts --write",
  );
});

Deno.test("deno.json's only set launches: it reads, resolves PATH and calls libc, nothing else", () => {
  assertEquals(Object.keys(sets), ["agent"]);
  assertEquals(sets.agent, { read: true, env: ["PATH"], ffi: true });
  // No path of the configuration is repeated in deno.json.
  assert(!text.includes("/var/lib/sauropod") && !text.includes("/var/log/pods"));
});

Deno.test("withPermissions() replaces only the permissions object", () => {
  const before =
    '{\n  "a": 1,\n  "permissions": {\n    "x": { "read": true }\n  },\n  "b": [2]\n}\n';
  const after = withPermissions(before, { y: { write: ["/w"] } });
  assertEquals(JSON.parse(after), { a: 1, permissions: { y: { write: ["/w"] } }, b: [2] });
  assert(after.startsWith('{\n  "a": 1,\n  "permissions": {') && after.endsWith('  "b": [2]\n}\n'));
});
