/**
 * ListImages: every image, or the one `filter.image.image` names (CRI-O's reading of the
 * filter; containerd ignores it and crictl filters client-side, which still works).
 *
 * @module
 */
import type { ListImagesRequest, ListImagesResponse } from "../../api/gen/api.ts";
import type { ImageService } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { toCriImage } from "./_convert.ts";

/** The ListImages handler. */
export function listImages(
  images: ImageService,
  req: ListImagesRequest,
  _ctx: { signal: AbortSignal; logger: Logger },
): Promise<ListImagesResponse> {
  const filter = req.filter?.image?.image ?? "";
  return Promise.resolve({ images: images.list(filter || undefined).map(toCriImage) });
}
