/**
 * StreamImages (cri-api 0.36, `CRIListStreaming`): ListImages' list, same filter, in bounded
 * batches, so a node with many images never builds a response near the 16 MiB message cap.
 *
 * @module
 */
import { type StreamImagesRequest, StreamImagesResponse } from "../../api/gen/api.ts";
import type { ImageService } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { type BatchLimits, type PreEncoded, sendInBatches } from "../batches.ts";
import { toCriImage } from "./_convert.ts";

/** The StreamImages handler. */
export function streamImages(
  images: ImageService,
  req: StreamImagesRequest,
  ctx: { signal: AbortSignal; logger: Logger },
  send: (msg: StreamImagesResponse | PreEncoded) => Promise<void>,
  limits: BatchLimits,
): Promise<void> {
  const filter = req.filter?.image?.image ?? "";
  return sendInBatches(
    StreamImagesResponse.encode({ images: images.list(filter || undefined).map(toCriImage) })
      .finish(),
    limits,
    ctx.signal,
    send,
  );
}
