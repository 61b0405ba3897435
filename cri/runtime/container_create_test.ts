import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { ContainerConfig, type Mount, MountPropagation } from "../../api/gen/api.ts";
import { SauropodError } from "../../errors/mod.ts";
import { validateContainerConfig } from "./container_create.ts";

function withMount(m: Partial<Mount>): ContainerConfig {
  return ContainerConfig.fromPartial({
    metadata: { name: "c", attempt: 0 },
    image: { image: "busybox" },
    mounts: [{ containerPath: "/v", ...m }],
  });
}

const volume = { image: { image: "data:1" }, readonly: true } as Partial<Mount>;

Deno.test("validateContainerConfig() takes an image volume as the kubelet sends it", () => {
  validateContainerConfig(withMount(volume));
  validateContainerConfig(withMount({ ...volume, imageSubPath: "usr/share" }));
});

Deno.test("validateContainerConfig() refuses a malformed image volume naming the field", () => {
  const cases: [Partial<Mount>, string][] = [
    [
      { ...volume, image: { image: "" } as Mount["image"] },
      "config.mounts[0].image.image is empty",
    ],
    [{ ...volume, hostPath: "/data" }, "config.mounts[0].host_path must be empty"],
    [{ ...volume, readonly: false }, "config.mounts[0].readonly must be true"],
    [
      { ...volume, propagation: MountPropagation.PROPAGATION_BIDIRECTIONAL },
      "config.mounts[0].propagation must be private",
    ],
    [{ ...volume, imageSubPath: "/etc" }, "config.mounts[0].image_sub_path"],
    [{ ...volume, imageSubPath: "a/../../b" }, "config.mounts[0].image_sub_path"],
    [{ ...volume, imageSubPath: "a\0b" }, "config.mounts[0].image_sub_path"],
    [{ ...volume, imageSubPath: "a".repeat(4097) }, "config.mounts[0].image_sub_path"],
    [{ hostPath: "/data", imageSubPath: "x" }, "config.mounts[0].image_sub_path is set but image"],
    [{ hostPath: "" }, "config.mounts[0].host_path is empty"],
  ];
  for (const [m, message] of cases) {
    const err = assertThrows(() => validateContainerConfig(withMount(m)), SauropodError);
    assertEquals(
      [err.kind, err.message.startsWith(message)],
      ["invalid-argument", true],
      err.message,
    );
  }
});
