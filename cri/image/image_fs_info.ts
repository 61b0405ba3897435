/**
 * ImageFsInfo: bytes and inodes of the image file system (content store, unpacked layers
 * and containers' writable layers), reported on the snapshot directory as containerd
 * reports its snapshotter's root.
 *
 * Images and containers' writable layers share that directory, so `container_filesystems`
 * holds the same entry, as CRI-O answers without a separate image store (KEP-4191): the
 * kubelet's split-filesystem check compares the two mount points and finds them equal, and
 * its cAdvisor stats path, which reads `container_filesystems[0]` unguarded when
 * KubeletSeparateDiskGC is on, gets an entry rather than an index out of range.
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
  const fs = {
    timestamp: u.timestampNs,
    fsId: { mountpoint: u.mountpoint },
    usedBytes: { value: BigInt(u.usedBytes) },
    inodesUsed: { value: BigInt(u.inodesUsed) },
  };
  return { imageFilesystems: [fs], containerFilesystems: [{ ...fs }] };
}
