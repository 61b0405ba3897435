import { assertEquals } from "../testing/assert.ts";
import { parseCmdline, parseSmapsRollup } from "./_proc.ts";

const ROLLUP = `55d0c8a4e000-7ffd3b1f5000 ---p 00000000 00:00 0                          [rollup]
Rss:               12340 kB
Pss:                4321 kB
Pss_Anon:           3000 kB
Pss_File:           1321 kB
Shared_Clean:       8000 kB
Swap:                  0 kB
SwapPss:               0 kB
`;

Deno.test("parseSmapsRollup() reads Rss and Pss in bytes, not the Pss_* breakdown", () => {
  assertEquals(parseSmapsRollup(ROLLUP), { rss: 12340 * 1024, pss: 4321 * 1024 });
});

Deno.test("parseSmapsRollup() is undefined when Pss is missing", () => {
  assertEquals(parseSmapsRollup("Rss: 10 kB\n"), undefined);
  assertEquals(parseSmapsRollup(""), undefined);
});

Deno.test("parseCmdline() splits on NUL and drops the trailing terminator", () => {
  assertEquals(parseCmdline("containerd-shim-runc-v2\0-namespace\0k8s.io\0"), [
    "containerd-shim-runc-v2",
    "-namespace",
    "k8s.io",
  ]);
  assertEquals(parseCmdline(""), []);
});
