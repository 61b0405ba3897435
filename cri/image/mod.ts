/**
 * The CRI ImageService handlers, one file per RPC: validate the request, call
 * `image`, map the result. Errors are SauropodErrors; `cri/status.ts` turns their
 * kinds into gRPC codes.
 *
 * `imageHandlers(images)` binds them all for `createCriServer`.
 *
 * @module
 */
import type { ImageService } from "../../image/mod.ts";
import type { ImageHandlers } from "../server.ts";
import { imageFsInfo } from "./image_fs_info.ts";
import { imageStatus } from "./image_status.ts";
import { listImages } from "./list_images.ts";
import { pullImage } from "./pull_image.ts";
import { removeImage } from "./remove_image.ts";
import { streamImages } from "./stream_images.ts";

export { imageFsInfo, imageStatus, listImages, pullImage, removeImage, streamImages };
export { imageUser, toCriImage } from "./_convert.ts";

/** Every ImageService handler bound to `images`. */
export function imageHandlers(images: ImageService): ImageHandlers {
  return {
    listImages: (req, ctx) => listImages(images, req, ctx),
    imageStatus: (req, ctx) => imageStatus(images, req, ctx),
    pullImage: (req, ctx) => pullImage(images, req, ctx),
    removeImage: (req, ctx) => removeImage(images, req, ctx),
    imageFsInfo: (req, ctx) => imageFsInfo(images, req, ctx),
    streamImages: (req, ctx, send) => streamImages(images, req, ctx, send),
  };
}
