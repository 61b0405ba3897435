import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { lsmFindings } from "./check_lsm.ts";

Deno.test("lsmFindings() says what AppArmor does here, and fails an enabled one without its parser", () => {
  const [off] = lsmFindings({ enabled: false, reason: "no securityfs" }, false);
  assertEquals(off?.level, "ok");
  assertStringIncludes(
    off!.message,
    "RuntimeDefault run unconfined, and Localhost profiles are refused",
  );
  const [on] = lsmFindings({ enabled: true, parser: "/usr/sbin/apparmor_parser" }, false);
  assertEquals(on?.level, "ok");
  assertStringIncludes(on!.message, "default profile");
  const [broken] = lsmFindings({ enabled: true }, false);
  assertEquals([broken?.level, broken?.fix], ["fail", "apt-get install -y apparmor"]);
});

Deno.test("lsmFindings() warns that SELinux options are refused where SELinux is enabled", () => {
  const off = lsmFindings({ enabled: false, reason: "x" }, false)[1]!;
  assertEquals(off.level, "ok");
  assertStringIncludes(off.message, "ignored");
  const on = lsmFindings({ enabled: false, reason: "x" }, true)[1]!;
  assertEquals(on.level, "warn");
  assertStringIncludes(on.message, "refused");
});
