/**
 * ImageFsInfo: bytes and inodes of the image file system (content store, unpacked layers
 * and containers' writable layers), reported on the snapshot directory as containerd
 * reports its snapshotter's root. Images and container layers share one file system
 * here, so `container_filesystems` stays empty (the kubelet then uses the image one).
 *
 * @module
 */
import type { ImageFsInfoRequest, ImageFsInfoResponse } from "../../api/gen/api.ts";
import type { ImageService } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";

/** The ImageFsInfo handler. */
export async function imageFsInfo(
  images: ImageService,
  _req: ImageFsInfoRequest,
  _ctx: { signal: AbortSignal; logger: Logger },
): Promise<ImageFsInfoResponse> {
  const u = await images.fsInfo();
  return {
    imageFilesystems: [{
      timestamp: u.timestampNs,
      fsId: { mountpoint: u.mountpoint },
      usedBytes: { value: BigInt(u.usedBytes) },
      inodesUsed: { value: BigInt(u.inodesUsed) },
    }],
    containerFilesystems: [],
  };
}
