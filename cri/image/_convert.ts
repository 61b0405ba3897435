/**
 * ImageRecord → CRI `Image`, the way containerd's `toCRIImage` does it, and the shared
 * validation of an `ImageSpec`.
 *
 * @module
 */
import type { Image, ImageSpec } from "../../api/gen/api.ts";
import type { ImageRecord } from "../../image/mod.ts";
import { invalidArgument } from "../../errors/mod.ts";
import { quote } from "../validate.ts";

/**
 * The image user as the CRI reports it: `uid` when the config's USER (before any `:group`)
 * is numeric, else `username`; neither when USER is empty (containerd's
 * `getUserFromImage`).
 */
export function imageUser(user: string): { uid?: bigint; username: string } {
  if (user === "") return { username: "" };
  const name = user.split(":")[0]!;
  if (/^-?\d+$/.test(name)) {
    const uid = BigInt(name);
    // strconv.ParseInt(…, 10, 64) accepts only int64; out of range is a name in containerd.
    if (uid >= -(2n ** 63n) && uid < 2n ** 63n) return { uid, username: "" };
  }
  return { username: name };
}

/** The CRI message for one image. */
export function toCriImage(img: ImageRecord): Image {
  const { uid, username } = imageUser(img.config.user);
  const out: Image = {
    id: img.id,
    repoTags: img.repoTags,
    repoDigests: img.repoDigests,
    size: BigInt(img.size),
    username,
    spec: {
      image: img.id,
      annotations: {},
      userSpecifiedImage: "",
      runtimeHandler: "",
      imageRef: "",
    },
    pinned: img.pinned,
  };
  if (uid !== undefined) out.uid = { value: uid };
  return out;
}

/**
 * The image reference of a request's `ImageSpec`: required, non-empty, no control
 * characters. `field` names it in errors (`image`, `filter.image`).
 */
export function imageRefOf(spec: ImageSpec | undefined, field: string): string {
  if (!spec) throw invalidArgument(`${field} is required`);
  const ref = spec.image;
  if (ref === "") throw invalidArgument(`${field}.image is empty`);
  if (ref.length > 4096) throw invalidArgument(`${field}.image is longer than 4096 characters`);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(ref)) {
    throw invalidArgument(`${field}.image ${quote(ref)} contains control characters`);
  }
  return ref;
}
