/**
 * Reading image manifests straight from the local (plain-http) registry, for what the CRI
 * does not say: the layers of an image.
 *
 * @module
 */
import { unavailable } from "../../errors/mod.ts";

const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Where an image reference `host/repo:tag` points. */
export interface RegistryRef {
  readonly host: string;
  readonly repo: string;
  readonly tag: string;
}

/** Splits `host/repo:tag`. */
export function splitRef(ref: string): RegistryRef {
  const slash = ref.indexOf("/");
  const colon = ref.lastIndexOf(":");
  if (slash < 0 || colon < slash) throw unavailable(`${ref} is not host/repo:tag`);
  return {
    host: ref.slice(0, slash),
    repo: ref.slice(slash + 1, colon),
    tag: ref.slice(colon + 1),
  };
}

/** The layer digests of a single-platform image. */
export async function layerDigests(ref: string): Promise<string[]> {
  const r = splitRef(ref);
  const res = await fetch(`http://${r.host}/v2/${r.repo}/manifests/${r.tag}`, {
    headers: { accept: ACCEPT },
  });
  if (!res.ok) throw unavailable(`manifest of ${ref}: HTTP ${res.status}`);
  const manifest = await res.json() as { layers?: { digest: string }[] };
  if (!manifest.layers) throw unavailable(`manifest of ${ref} lists no layers`);
  return manifest.layers.map((l) => l.digest);
}

/** The body of blob `digest` of the image `ref`'s repository. */
export async function fetchBlob(ref: string, digest: string): Promise<ReadableStream<Uint8Array>> {
  const r = splitRef(ref);
  const res = await fetch(`http://${r.host}/v2/${r.repo}/blobs/${digest}`);
  if (!res.ok || !res.body) throw unavailable(`blob ${digest} of ${ref}: HTTP ${res.status}`);
  return res.body;
}
