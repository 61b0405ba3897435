import { assertEquals } from "../testing/assert.ts";
import { chainIds, hexOf, sha256 } from "./_digest.ts";

Deno.test("sha256() formats a digest", () => {
  assertEquals(
    sha256(""),
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
  assertEquals(hexOf("sha256:abc"), "abc");
});

Deno.test("chainIds() follows the OCI definition", () => {
  const a = "sha256:" + "1".repeat(64);
  const b = "sha256:" + "2".repeat(64);
  const c = "sha256:" + "3".repeat(64);
  const ab = sha256(`${a} ${b}`);
  assertEquals(chainIds([a, b, c]), [a, ab, sha256(`${ab} ${c}`)]);
  assertEquals(chainIds([]), []);
});
