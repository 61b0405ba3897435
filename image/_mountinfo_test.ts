import { assertEquals } from "../testing/assert.ts";
import { parseMountinfo, unescapeMountPath } from "./_mountinfo.ts";

Deno.test("parseMountinfo() reads mount points and types, unescaping octal", () => {
  const text = [
    "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
    "97 22 0:52 / /var/lib/x/rootfs\\040dir rw,relatime - overlay overlay rw,lowerdir=/a",
    "garbage",
    "",
  ].join("\n");
  assertEquals(parseMountinfo(text), [
    { mountPoint: "/", fsType: "ext4" },
    { mountPoint: "/var/lib/x/rootfs dir", fsType: "overlay" },
  ]);
  assertEquals(unescapeMountPath("a\\134b\\011c"), "a\\b\tc");
});
