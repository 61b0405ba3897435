import { assert, assertEquals } from "../testing/assert.ts";
import { containerNameKey, looksLikeId, newId, resolvePrefix, sandboxNameKey } from "./ids.ts";

Deno.test("newId() makes 64 hex digits, different each time", () => {
  const a = newId();
  assert(looksLikeId(a));
  assert(a !== newId());
  assert(looksLikeId(a.slice(0, 12), true));
  assert(!looksLikeId("../etc", true));
});

Deno.test("name keys join the CRI metadata", () => {
  assertEquals(sandboxNameKey({ name: "p", namespace: "ns", uid: "u", attempt: 1 }), "p_ns_u_1");
  assertEquals(
    containerNameKey({ name: "c", attempt: 0 }, { name: "p", namespace: "ns", uid: "u" }),
    "c_p_ns_u_0",
  );
});

Deno.test("resolvePrefix() finds a unique prefix and reports ambiguity", () => {
  const ids = ["abc1", "abd2", "xyz"];
  assertEquals(resolvePrefix("abc", ids), "abc1");
  assertEquals(resolvePrefix("ab", ids), "ambiguous");
  assertEquals(resolvePrefix("xyz", ids), "xyz");
  assertEquals(resolvePrefix("q", ids), undefined);
});
