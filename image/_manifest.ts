/**
 * OCI and Docker schema-2 manifests, indexes (manifest lists) and image configs: media
 * types, validation of what a registry sends, and the choice of one platform's manifest.
 *
 * Everything here is pure: bytes in, typed values or invalid-argument errors out.
 *
 * @module
 */
import { invalidArgument, unimplemented } from "../errors/mod.ts";
import { isSha256Digest } from "./_reference.ts";

/** Media types we read. */
export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondistGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ociLayerNondist: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** The Accept header of a manifest request: every manifest kind we can read. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
].join(", ");

/** Manifests larger than this are refused before parsing (containerd uses 4 MiB too). */
export const MAX_MANIFEST_BYTES = 4 << 20;
/** Image configs larger than this are refused. */
export const MAX_CONFIG_BYTES = 8 << 20;

/** How a layer blob is compressed. */
export type Compression = "gzip" | "zstd" | "none";

/** A content descriptor (OCI `descriptor.md`). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

/** An OCI platform (`os`, `architecture`, optional `variant`). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

/** An index or manifest list. */
export interface Index {
  kind: "index";
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

/** A single-platform image manifest. */
export interface Manifest {
  kind: "manifest";
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The image config fields sauropod uses (OCI `config.md`; Docker's is a superset). */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  author?: string;
  config: {
    User?: string;
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    StopSignal?: string;
    Volumes?: Record<string, unknown> | null;
    ExposedPorts?: Record<string, unknown> | null;
    Labels?: Record<string, string> | null;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: unknown[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A value from a registry document for an error message. Registries (and whoever pushed
 * to them) write these documents, and errors reach pod events: only a short token in the
 * grammar of media types, platforms and digests is quoted; anything else is described.
 */
export function shown(v: unknown): string {
  if (typeof v === "string") {
    return /^[A-Za-z0-9][A-Za-z0-9.+_/:=-]{0,127}$/.test(v)
      ? `"${v}"`
      : `a string of ${v.length} characters`;
  }
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "a number";
  if (v === null || v === undefined || typeof v === "boolean") return String(v);
  return Array.isArray(v) ? "a list" : `a value of type ${typeof v}`;
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalidArgument(`${what} (${bytes.length} bytes) is not valid UTF-8`);
  }
  try {
    v = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the document, and the document is the
    // registry's, on its way into pod events.
    throw invalidArgument(`${what} (${bytes.length} bytes) is not valid JSON`);
  }
  if (!isRecord(v)) throw invalidArgument(`${what} is not a JSON object`);
  return v;
}

function checkDescriptor(v: unknown, what: string): Descriptor {
  if (!isRecord(v)) throw invalidArgument(`${what} is not an object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== "string" || mediaType === "") {
    throw invalidArgument(`${what}.mediaType is missing`);
  }
  if (typeof digest !== "string" || !isSha256Digest(digest)) {
    throw invalidArgument(`${what}.digest ${shown(digest)} is not a sha256 digest`);
  }
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
    throw invalidArgument(`${what}.size ${shown(size)} is not a size`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (Array.isArray(v.urls) && v.urls.every((u) => typeof u === "string")) d.urls = v.urls;
  if (isRecord(v.annotations)) d.annotations = v.annotations as Record<string, string>;
  if (isRecord(v.platform)) {
    const p = v.platform;
    if (typeof p.os !== "string" || typeof p.architecture !== "string") {
      throw invalidArgument(`${what}.platform needs os and architecture`);
    }
    d.platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === "string" && p.variant !== "") d.platform.variant = p.variant;
  }
  return d;
}

/**
 * Parses a manifest or index. `contentType` is the registry's Content-Type header; the
 * document's own `mediaType` field wins when present (registries sometimes send
 * `application/json`).
 */
export function parseManifest(bytes: Uint8Array, contentType: string): Index | Manifest {
  const doc = parseJson(bytes, "manifest");
  const declared = typeof doc.mediaType === "string" ? doc.mediaType : "";
  const header = contentType.split(";")[0]!.trim();
  let mediaType = declared || header;
  if (mediaType === "" || mediaType === "application/json") {
    // OCI allows omitting mediaType: tell the two shapes apart by their fields.
    mediaType = Array.isArray(doc.manifests)
      ? MediaType.ociIndex
      : isRecord(doc.config)
      ? MediaType.ociManifest
      : "";
  }
  if (mediaType === MediaType.dockerSchema1 || mediaType === MediaType.dockerSchema1Signed) {
    throw unimplemented(
      "Docker schema-1 manifests are deprecated and not supported; push the image again " +
        "with a current client",
    );
  }
  if (mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList) {
    if (!Array.isArray(doc.manifests)) throw invalidArgument("index has no manifests list");
    const manifests = doc.manifests.map((m, i) => checkDescriptor(m, `index.manifests[${i}]`));
    const idx: Index = { kind: "index", mediaType, manifests };
    if (isRecord(doc.annotations)) idx.annotations = doc.annotations as Record<string, string>;
    return idx;
  }
  if (mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest) {
    if (doc.schemaVersion !== 2) {
      throw invalidArgument(`manifest schemaVersion ${shown(doc.schemaVersion)} is not 2`);
    }
    const config = checkDescriptor(doc.config, "manifest.config");
    if (!Array.isArray(doc.layers)) throw invalidArgument("manifest has no layers list");
    const layers = doc.layers.map((l, i) => checkDescriptor(l, `manifest.layers[${i}]`));
    const m: Manifest = { kind: "manifest", mediaType, config, layers };
    if (isRecord(doc.annotations)) m.annotations = doc.annotations as Record<string, string>;
    return m;
  }
  throw invalidArgument(`unsupported manifest media type ${shown(mediaType)}`);
}

/** The compression of a layer, from its media type; throws for layers we cannot unpack. */
export function layerCompression(mediaType: string): Compression {
  switch (mediaType) {
    case MediaType.ociLayerGzip:
    case MediaType.ociLayerNondistGzip:
    case MediaType.dockerLayerGzip:
    case MediaType.dockerForeignLayerGzip:
      return "gzip";
    case MediaType.ociLayerZstd:
      return "zstd";
    case MediaType.ociLayer:
    case MediaType.ociLayerNondist:
      return "none";
  }
  if (mediaType.includes("encrypted")) {
    throw unimplemented(`encrypted layers (${shown(mediaType)}) are not supported`);
  }
  throw invalidArgument(`unsupported layer media type ${shown(mediaType)}`);
}

/** The platform this node runs images for (Go's GOOS/GOARCH spelling). */
export function hostPlatform(): Platform {
  const arch = Deno.build.arch === "x86_64" ? "amd64" : "arm64";
  return arch === "arm64"
    ? { os: "linux", architecture: "arm64", variant: "v8" }
    : { os: "linux", architecture: "amd64" };
}

function normaliseVariant(p: Platform): string {
  if (p.architecture === "arm64") return p.variant && p.variant !== "" ? p.variant : "v8";
  if (p.architecture === "amd64") return p.variant && p.variant !== "v1" ? p.variant : "";
  return p.variant ?? "";
}

/**
 * Picks `want`'s manifest from an index, as containerd's default platform matcher does:
 * same os and architecture; an exact variant beats a compatible one (`arm64` without a
 * variant is `v8`, `amd64` without one is `v1`). Attestation manifests (platform
 * `unknown/unknown`) never match.
 */
export function selectPlatform(index: Index, want: Platform): Descriptor | undefined {
  let fallback: Descriptor | undefined;
  for (const m of index.manifests) {
    if (m.mediaType !== MediaType.ociManifest && m.mediaType !== MediaType.dockerManifest) {
      continue;
    }
    const p = m.platform;
    if (!p) continue;
    if (p.os !== want.os || p.architecture !== want.architecture) continue;
    if (normaliseVariant(p) === normaliseVariant(want)) return m;
    // amd64 variants v2..v4 run on the node only if its CPU supports them; keep the first
    // as a last resort rather than failing outright.
    fallback ??= m;
  }
  return fallback;
}

/** Formats a platform as `linux/amd64` or `linux/arm64/v8`. */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** Parses and checks an image config: diff_ids must be sha256 digests, one per layer. */
export function parseImageConfig(bytes: Uint8Array, layerCount: number): ImageConfig {
  const doc = parseJson(bytes, "image config");
  const rootfs = doc.rootfs;
  if (!isRecord(rootfs) || !Array.isArray(rootfs.diff_ids)) {
    throw invalidArgument("image config has no rootfs.diff_ids");
  }
  const diffIds = rootfs.diff_ids;
  for (const [i, d] of diffIds.entries()) {
    if (typeof d !== "string" || !isSha256Digest(d)) {
      throw invalidArgument(`image config rootfs.diff_ids[${i}] is not a sha256 digest`);
    }
  }
  if (diffIds.length !== layerCount) {
    throw invalidArgument(
      `image config lists ${diffIds.length} diff_ids but the manifest has ${layerCount} layers`,
    );
  }
  const config = isRecord(doc.config) ? doc.config : {};
  const strings = (v: unknown, field: string): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw invalidArgument(`image config ${field} is not a list of strings`);
    }
    return v;
  };
  const str = (v: unknown, field: string): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") throw invalidArgument(`image config ${field} is not a string`);
    return v;
  };
  const out: ImageConfig = {
    architecture: str(doc.architecture, "architecture") ?? "",
    os: str(doc.os, "os") ?? "",
    config: {},
    rootfs: { type: str(rootfs.type, "rootfs.type") ?? "layers", diff_ids: diffIds as string[] },
  };
  const variant = str(doc.variant, "variant");
  if (variant) out.variant = variant;
  const created = str(doc.created, "created");
  if (created) out.created = created;
  const c = out.config;
  const user = str(config.User, "config.User");
  if (user !== undefined) c.User = user;
  const env = strings(config.Env, "config.Env");
  if (env) c.Env = env;
  const entrypoint = strings(config.Entrypoint, "config.Entrypoint");
  if (entrypoint) c.Entrypoint = entrypoint;
  const cmd = strings(config.Cmd, "config.Cmd");
  if (cmd) c.Cmd = cmd;
  const wd = str(config.WorkingDir, "config.WorkingDir");
  if (wd !== undefined) c.WorkingDir = wd;
  const stop = str(config.StopSignal, "config.StopSignal");
  if (stop !== undefined) c.StopSignal = stop;
  if (isRecord(config.Volumes)) c.Volumes = config.Volumes;
  if (isRecord(config.ExposedPorts)) c.ExposedPorts = config.ExposedPorts;
  if (isRecord(config.Labels)) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.Labels)) if (typeof v === "string") labels[k] = v;
    c.Labels = labels;
  }
  return out;
}
