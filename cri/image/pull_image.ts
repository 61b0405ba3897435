/**
 * PullImage: pull and unpack, answer the image id (containerd's `image_ref`). The CRI
 * `AuthConfig` applies to the registry named by its `server_address` (any, when empty);
 * without one, the node's configured credentials are used.
 *
 * @module
 */
import type { AuthConfig, PullImageRequest, PullImageResponse } from "../../api/gen/api.ts";
import type { ImageService, PullAuth } from "../../image/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { imageRefOf } from "./_convert.ts";

/** The runtime's view of a CRI AuthConfig; undefined when it carries nothing. */
export function toPullAuth(a: AuthConfig | undefined): PullAuth | undefined {
  if (!a) return undefined;
  const out: PullAuth = {};
  if (a.username) out.username = a.username;
  if (a.password) out.password = a.password;
  if (a.auth) out.auth = a.auth;
  if (a.serverAddress) out.serverAddress = a.serverAddress;
  if (a.identityToken) out.identityToken = a.identityToken;
  if (a.registryToken) out.registryToken = a.registryToken;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The PullImage handler. */
export async function pullImage(
  images: ImageService,
  req: PullImageRequest,
  ctx: { signal: AbortSignal; logger: Logger },
): Promise<PullImageResponse> {
  const ref = imageRefOf(req.image, "image");
  const auth = toPullAuth(req.auth);
  const img = await images.pull(ref, { signal: ctx.signal, ...(auth ? { auth } : {}) });
  return { imageRef: img.id };
}
