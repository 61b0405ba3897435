import { assertEquals } from "../testing/assert.ts";
import { masqueradeRules, splitQuoted } from "./cleanup.ts";

Deno.test("splitQuoted() keeps quoted words whole and unescapes inner quotes", () => {
  assertEquals(
    splitQuoted(
      `-A POSTROUTING -s 10.1.0.2/32 -m comment --comment "name: \\"net\\" id: \\"abc\\"" -j CNI-1`,
    ),
    [
      "-A",
      "POSTROUTING",
      "-s",
      "10.1.0.2/32",
      "-m",
      "comment",
      "--comment",
      `name: "net" id: "abc"`,
      "-j",
      "CNI-1",
    ],
  );
  assertEquals(splitQuoted(`a  "" b`), ["a", "", "b"]);
});

const NAT = [
  "-P POSTROUTING ACCEPT",
  `-A POSTROUTING -s 10.201.0.5/32 -m comment --comment "name: \\"bench-sauropod-1\\" id: \\"c1\\"" -j CNI-aaa`,
  `-A POSTROUTING -s 10.88.0.5/32 -m comment --comment "name: \\"other\\" id: \\"c2\\"" -j CNI-bbb`,
  `-A POSTROUTING -s 10.201.0.6/32 -m comment --comment "name: \\"bench-sauropod-10\\" id: \\"c3\\"" -j CNI-ccc`,
  "",
].join("\n");

Deno.test("masqueradeRules() finds exactly the rules of one network and their chains", () => {
  assertEquals(masqueradeRules(NAT, "bench-sauropod-1"), [{
    rule: [
      "-s",
      "10.201.0.5/32",
      "-m",
      "comment",
      "--comment",
      `name: "bench-sauropod-1" id: "c1"`,
      "-j",
      "CNI-aaa",
    ],
    chain: "CNI-aaa",
  }]);
  assertEquals(masqueradeRules(NAT, "nothing"), []);
});
