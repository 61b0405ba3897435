/** The ImageService handlers against a real image store and registry. */
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { nullLogger } from "../../log/mod.ts";
import { type AuthConfig, type ImageSpec, StreamImagesResponse } from "../../api/gen/api.ts";
import { PreEncoded } from "../batches.ts";
import { testRegistry } from "../../tests/fixtures/images.ts";
import { cannotRun, openTestService } from "../../image/_test_env.ts";
import {
  imageFsInfo,
  imageStatus,
  listImages,
  pullImage,
  removeImage,
  streamImages,
} from "./mod.ts";

const ctx = { signal: new AbortController().signal, logger: nullLogger };
const spec = (image: string): ImageSpec => ({
  image,
  annotations: {},
  userSpecifiedImage: "",
  runtimeHandler: "",
  imageRef: "",
});
const noAuth: AuthConfig | undefined = undefined;

Deno.test({
  name: "CRI ImageService handlers",
  ignore: cannotRun() !== undefined,
  sanitizeResources: false,
  async fn(t) {
    const user = "kubelet";
    const password = "node-secret";
    await using env = await testRegistry({ htpasswd: { user, password } });
    const img = env.images;
    await using ts = await openTestService();
    const images = ts.svc;
    const auth: AuthConfig = {
      username: user,
      password,
      auth: "",
      serverAddress: img.host,
      identityToken: "",
      registryToken: "",
    };

    await t.step("PullImage answers the image id and uses the AuthConfig", async () => {
      const res = await pullImage(images, { image: spec(img.userUid.ref), auth }, ctx);
      assertEquals(res.imageRef, img.userUid.id);
      const res2 = await pullImage(images, { image: spec(img.userName.ref), auth }, ctx);
      assertEquals(res2.imageRef, img.userName.id);
      const denied = await assertRejects(
        () => pullImage(images, { image: spec(img.busybox.ref), auth: noAuth }, ctx),
        SauropodError,
      );
      assertEquals(denied.kind, "permission-denied");
      const bad = await assertRejects(
        () => pullImage(images, { image: spec("Busybox"), auth }, ctx),
        SauropodError,
        "lowercase",
      );
      assertEquals(bad.kind, "invalid-argument");
      await assertRejects(() => pullImage(images, {}, ctx), SauropodError, "image is required");
    });

    await t.step("ImageStatus reports uid or username, and verbose info", async () => {
      const uid = await imageStatus(images, { image: spec(img.userUid.ref), verbose: false }, ctx);
      assertEquals(uid.image?.uid, { value: 1000n });
      assertEquals(uid.image?.username, "");
      assertEquals(uid.info, {});
      const named = await imageStatus(images, { image: spec(img.userName.id), verbose: true }, ctx);
      assertEquals(named.image?.uid, undefined);
      assertEquals(named.image?.username, "sauropod");
      const info = JSON.parse(named.info.info!);
      assertEquals(info.imageSpec.config.User, "sauropod");
      assertEquals(info.imageSpec.rootfs.diff_ids.length, 1);
      assert(info.chainID.startsWith("sha256:"));
      const none = await imageStatus(images, { image: spec("nope:1"), verbose: true }, ctx);
      assertEquals(none, { info: {} });
    });

    await t.step("ListImages lists all or the filtered one; StreamImages agrees", async () => {
      const all = await listImages(images, {}, ctx);
      assertEquals(all.images.length, 2);
      const one = await listImages(images, { filter: { image: spec(img.userUid.ref) } }, ctx);
      assertEquals(one.images.map((i) => i.id), [img.userUid.id]);
      const none = await listImages(images, { filter: { image: spec("nope") } }, ctx);
      assertEquals(none.images, []);
      const sent: StreamImagesResponse[] = [];
      const push = (m: StreamImagesResponse | PreEncoded) => {
        sent.push(m instanceof PreEncoded ? StreamImagesResponse.decode(m.bytes) : m);
        return Promise.resolve();
      };
      // As a client decodes them (absent optional fields read back as undefined).
      const wire = (l: typeof all) =>
        StreamImagesResponse.decode(StreamImagesResponse.encode(l).finish()).images;
      await streamImages(images, {}, ctx, push, { maxItems: 5000, maxBytes: 15 << 20 });
      assertEquals(sent.length, 1);
      assertEquals(sent.flatMap((m) => m.images), wire(all));
      sent.length = 0;
      await streamImages(images, {}, ctx, push, { maxItems: 1, maxBytes: 15 << 20 });
      assertEquals(sent.map((m) => m.images.length), [1, 1]);
      assertEquals(sent.flatMap((m) => m.images), wire(all));
    });

    await t.step("ImageFsInfo reports the snapshot file system", async () => {
      const res = await imageFsInfo(images, {}, ctx);
      assertEquals(res.imageFilesystems.length, 1);
      const fs = res.imageFilesystems[0]!;
      assertEquals(fs.fsId?.mountpoint, `${ts.root}/snapshots`);
      assert(fs.usedBytes!.value > 0n && fs.inodesUsed!.value > 0n && fs.timestamp > 0n);
      // One shared file system: the kubelet's split check sees equal mount points.
      assertEquals(res.containerFilesystems, res.imageFilesystems);
    });

    await t.step("RemoveImage is idempotent and refuses images in use", async () => {
      images.setInUse((id) =>
        id === img.userName.id ? { containerId: "c1", volume: false } : undefined
      );
      const busy = await assertRejects(
        () => removeImage(images, { image: spec(img.userName.ref) }, ctx),
        SauropodError,
      );
      assertEquals(busy.kind, "failed-precondition");
      images.setInUse(() => undefined);
      await removeImage(images, { image: spec(img.userName.ref) }, ctx);
      await removeImage(images, { image: spec(img.userName.ref) }, ctx);
      await removeImage(images, { image: spec("never/pulled:1") }, ctx);
      assertEquals((await listImages(images, {}, ctx)).images.map((i) => i.id), [img.userUid.id]);
    });
  },
});
