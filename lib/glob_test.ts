import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { compileGlob, globMatcher } from "./glob.ts";

const matches = (pattern: string, s: string) => compileGlob(pattern).test(s);

Deno.test("compileGlob() matches as Go's path.Match: * and ? stop at /", () => {
  assert(matches("io.kubernetes.cri.*", "io.kubernetes.cri.container-type"));
  assert(matches("*", "run.oci.keep_original_groups"));
  assert(!matches("*", "a/b"));
  assert(matches("example.com/*", "example.com/x"));
  assert(!matches("example.com/*", "example.com/x/y"));
  assert(matches("a?c", "abc"));
  assert(!matches("a?c", "a/c"));
  assert(!matches("run.oci.*", "xrun.oci.a"), "anchored at the start");
  assert(!matches("run.oci", "run.oci.a"), "anchored at the end");
});

Deno.test("compileGlob() takes classes, ranges, negation and escapes literally", () => {
  assert(matches("[ab]x", "bx"));
  assert(!matches("[ab]x", "cx"));
  assert(matches("v[0-9]", "v7"));
  assert(matches("v[^0-9]", "vx"));
  assert(!matches("v[^0-9]", "v7"));
  assert(matches("a\\*b", "a*b"));
  assert(!matches("a\\*b", "axb"));
  assert(matches("[\\]]", "]"));
  assert(matches("a.b", "a.b"));
  assert(!matches("a.b", "axb"), "a dot is a dot, not a regexp wildcard");
  assert(matches("(x)+$", "(x)+$"));
  assert(matches("é*", "éte"));
});

Deno.test("compileGlob() refuses what Go calls a bad pattern, saying why", () => {
  for (
    const [p, why] of [
      ["a[", "not closed"],
      ["[]", "unescaped ]"],
      ["[^]", "unescaped ]"],
      ["[a-]", "unescaped ]"],
      ["[-a]", "unescaped -"],
      ["[z-a]", "backwards"],
      ["a\\", "trailing"],
    ]
  ) {
    assertThrows(() => compileGlob(p!), Error, why!);
  }
});

Deno.test("globMatcher() matches any of its patterns, and nothing without one", () => {
  const m = globMatcher(["io.kubernetes.cri.*", "example.com/x"]);
  assert(m("io.kubernetes.cri.sandbox-id"));
  assert(m("example.com/x"));
  assert(!m("run.oci.seccomp_bpf_data"));
  assertEquals(globMatcher([])("anything"), false);
});
