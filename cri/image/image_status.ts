/**
 * ImageStatus: the image, or an empty response when it is not here (not an error, per
 * the CRI and containerd). With `verbose`, `info["info"]` is containerd's JSON:
 * `{"chainID": <top layer chain id>, "imageSpec": <the OCI image config>}`.
 *
 * @module
 */
import type { ImageStatusRequest, ImageStatusResponse } from "../../api/gen/api.ts";
import type { ImageRecord, ImageService } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { invalidArgument } from "../../errors/mod.ts";
import { toCriImage } from "./_convert.ts";

/** containerd's verbose info document for `img`, whose config document is `configJson`. */
export function verboseInfo(img: ImageRecord, configJson: string): Record<string, string> {
  let spec: unknown;
  try {
    spec = JSON.parse(configJson);
  } catch (err) {
    return { info: `cannot decode image config: ${err instanceof Error ? err.message : err}` };
  }
  return { info: JSON.stringify({ chainID: img.chainIds.at(-1) ?? "", imageSpec: spec }) };
}

/** The ImageStatus handler. */
export function imageStatus(
  images: ImageService,
  req: ImageStatusRequest,
  _ctx: { signal: AbortSignal; logger: Logger },
): Promise<ImageStatusResponse> {
  if (!req.image) return Promise.reject(invalidArgument("image is required"));
  const img = images.resolve(req.image.image);
  if (!img) return Promise.resolve({ info: {} });
  return Promise.resolve({
    image: toCriImage(img),
    info: req.verbose ? verboseInfo(img, images.configJson(img.id) ?? "{}") : {},
  });
}
