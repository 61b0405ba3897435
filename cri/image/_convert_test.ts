import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import type { ImageRecord } from "../../image/mod.ts";
import { imageRefOf, imageUser, toCriImage } from "./_convert.ts";

Deno.test("imageUser() reports a numeric USER as uid and anything else as a name", () => {
  assertEquals(imageUser(""), { username: "" });
  assertEquals(imageUser("1000"), { uid: 1000n, username: "" });
  assertEquals(imageUser("1000:1000"), { uid: 1000n, username: "" });
  assertEquals(imageUser("0"), { uid: 0n, username: "" });
  assertEquals(imageUser("sauropod"), { username: "sauropod" });
  assertEquals(imageUser("sauropod:wheel"), { username: "sauropod" });
  assertEquals(imageUser("99999999999999999999"), { username: "99999999999999999999" });
});

const record: ImageRecord = {
  id: "sha256:" + "a".repeat(64),
  repoTags: ["docker.io/library/busybox:latest"],
  repoDigests: ["docker.io/library/busybox@sha256:" + "b".repeat(64)],
  size: 1234,
  config: {
    user: "65535:65535",
    env: [],
    entrypoint: [],
    cmd: [],
    workingDir: "",
    stopSignal: "",
    volumes: [],
    labels: {},
    exposedPorts: [],
  },
  chainIds: [],
  pinned: true,
  manifestDigest: "sha256:" + "c".repeat(64),
  pulledAtNs: 1n,
};

Deno.test("toCriImage() maps a record like containerd's toCRIImage", () => {
  assertEquals(toCriImage(record), {
    id: record.id,
    repoTags: record.repoTags,
    repoDigests: record.repoDigests,
    size: 1234n,
    uid: { value: 65535n },
    username: "",
    spec: {
      image: record.id,
      annotations: {},
      userSpecifiedImage: "",
      runtimeHandler: "",
      imageRef: "",
    },
    pinned: true,
  });
  const named = toCriImage({ ...record, config: { ...record.config, user: "nobody" } });
  assertEquals([named.uid, named.username], [undefined, "nobody"]);
});

Deno.test("imageRefOf() names the missing or malformed field", () => {
  assertThrows(() => imageRefOf(undefined, "image"), SauropodError, "image is required");
  const spec = {
    image: "",
    annotations: {},
    userSpecifiedImage: "",
    runtimeHandler: "",
    imageRef: "",
  };
  assertThrows(() => imageRefOf(spec, "image"), SauropodError, "image.image is empty");
  assertThrows(
    () => imageRefOf({ ...spec, image: "a\nb" }, "image"),
    SauropodError,
    "control characters",
  );
  assertEquals(imageRefOf({ ...spec, image: "busybox" }, "image"), "busybox");
});
