/**
 * StreamImages (cri-api 0.36, `CRIListStreaming`): ListImages in batches, so a node with
 * many images never builds a response near the 16 MiB message cap.
 *
 * @module
 */
import type { StreamImagesRequest, StreamImagesResponse } from "../../api/gen/api.ts";
import type { ImageService } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { canceled } from "../../errors/mod.ts";
import { toCriImage } from "./_convert.ts";

/** Images per streamed message. */
export const STREAM_BATCH = 100;

/** The StreamImages handler. */
export async function streamImages(
  images: ImageService,
  req: StreamImagesRequest,
  ctx: { signal: AbortSignal; logger: Logger },
  send: (msg: StreamImagesResponse) => Promise<void>,
): Promise<void> {
  const filter = req.filter?.image?.image ?? "";
  const all = images.list(filter || undefined);
  for (let i = 0; i < all.length; i += STREAM_BATCH) {
    if (ctx.signal.aborted) throw canceled("StreamImages canceled");
    await send({ images: all.slice(i, i + STREAM_BATCH).map(toCriImage) });
  }
}
