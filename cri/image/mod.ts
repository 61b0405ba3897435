/**
 * The CRI ImageService handlers, one file per RPC: validate the request, call `image/`,
 * map the result. Errors are SauropodErrors; `cri/status.ts` turns their kinds into gRPC
 * codes. `cri/server.ts` binds them to the RPCs.
 *
 * @module
 */
import { imageFsInfo } from "./image_fs_info.ts";
import { imageStatus } from "./image_status.ts";
import { listImages } from "./list_images.ts";
import { pullImage } from "./pull_image.ts";
import { removeImage } from "./remove_image.ts";
import { streamImages } from "./stream_images.ts";

export { imageFsInfo, imageStatus, listImages, pullImage, removeImage, streamImages };
export { imageUser, toCriImage } from "./_convert.ts";
