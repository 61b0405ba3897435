import { assert, assertEquals } from "../testing/assert.ts";
import { parseFeatures, parseVersion, versionAtLeast } from "./handler_probe.ts";

Deno.test("parseFeatures() reads rro, the user namespace and idmap; refuses JSON without OCI versions", () => {
  // runc 1.1.5's, cut: rro listed, no mountExtensions (it silently ignores mount mappings).
  const runc = JSON.stringify({
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.0.2-dev",
    mountOptions: ["ro", "rro", "rbind"],
    linux: { namespaces: ["mount", "user"] },
  });
  assertEquals(parseFeatures(runc), { rro: true, userns: true, idmap: false });
  const crun = JSON.stringify({
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.1.0",
    mountOptions: null,
    linux: { namespaces: ["user"], mountExtensions: { idmap: { enabled: true } } },
  });
  assertEquals(parseFeatures(crun), { rro: false, userns: true, idmap: true });
  assertEquals(parseFeatures(JSON.stringify({ ociVersionMin: "", ociVersionMax: "1" })), undefined);
  assertEquals(parseFeatures("unknown command features"), undefined);
});

Deno.test("parseVersion() and versionAtLeast() for the version table", () => {
  assertEquals(parseVersion("crun version 1.8.1\ncommit: f8a0\n"), ["crun", "1.8.1"]);
  assertEquals(parseVersion("runc version 1.1.5+ds1\n"), ["runc", "1.1.5+ds1"]);
  assert(versionAtLeast("1.8.1", "1.4.0"));
  assert(versionAtLeast("1.1.5+ds1", "1.1.0"));
  assert(!versionAtLeast("1.1.5+ds1", "1.2.0"));
  assert(versionAtLeast("1.10", "1.9.2"));
});
