import { assertEquals } from "../testing/assert.ts";
import { faultAction } from "./faults.ts";

Deno.test("faultAction() reads a bare point as a crash and `=hold` as a hold", () => {
  const entries = ["container-create:after-mount=hold", "sandbox-run:after-cni"];
  assertEquals(faultAction(entries, "container-create:after-mount"), "hold");
  assertEquals(faultAction(entries, "sandbox-run:after-cni"), "crash");
  assertEquals(faultAction(["sandbox-run:after-cni=crash"], "sandbox-run:after-cni"), "crash");
  assertEquals(faultAction(entries, "container-start:after-start"), undefined);
  // An action it does not know does nothing rather than something unexpected.
  assertEquals(faultAction(["sandbox-run:after-pin=pause"], "sandbox-run:after-pin"), undefined);
});
