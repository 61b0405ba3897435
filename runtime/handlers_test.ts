import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { HandlerSet, type RuntimeHandlerInfo } from "./handlers.ts";

const handler = (name: string): RuntimeHandlerInfo => ({
  name,
  binary: `/usr/bin/${name}`,
  root: `/run/s/runtimes/${name}`,
  options: [],
  podAnnotations: [],
  containerAnnotations: [],
  features: { recursiveReadOnlyMounts: false, userNamespaces: false },
  probe: { version: "", usable: true, source: "none", notes: [] },
});

Deno.test('HandlerSet: "" is the default, an unknown name is NOT_FOUND naming it', () => {
  const set = new HandlerSet([handler("runc"), handler("crun")], "crun");
  assertEquals(set.select("").name, "crun");
  assertEquals(set.select("runc").name, "runc");
  const err = assertThrows(() => set.select("kata"), SauropodError, 'runtime_handler "kata"');
  assertEquals(err.kind, "not-found");
  // A record of a handler removed since, or from before handlers, runs on the default.
  assertEquals(set.recorded(undefined).name, "crun");
  assertEquals(set.recorded("gone").name, "crun");
  assertEquals(set.recorded("runc").name, "runc");
});
