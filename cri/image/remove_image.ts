/**
 * RemoveImage: removes the whole image (every tag and digest) whichever name or id the
 * request uses. An unknown image is success (removal is idempotent, as in containerd); an
 * image a container uses is FAILED_PRECONDITION.
 *
 * @module
 */
import type { RemoveImageRequest, RemoveImageResponse } from "../../api/gen/api.ts";
import type { ImageService } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { imageRefOf } from "./_convert.ts";

/** The RemoveImage handler. */
export async function removeImage(
  images: ImageService,
  req: RemoveImageRequest,
  _ctx: { signal: AbortSignal; logger: Logger },
): Promise<RemoveImageResponse> {
  await images.remove(imageRefOf(req.image, "image"));
  return {};
}
