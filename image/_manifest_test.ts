import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import {
  type Index,
  layerCompression,
  MediaType,
  parseImageConfig,
  parseManifest,
  selectPlatform,
} from "./_manifest.ts";

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const d = (n: number) => "sha256:" + String(n).repeat(64).slice(0, 64);

const manifest = {
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: d(1), size: 10 },
  layers: [{ mediaType: MediaType.ociLayerGzip, digest: d(2), size: 20 }],
};

Deno.test("parseManifest() reads an OCI manifest", () => {
  const m = parseManifest(enc(manifest), "application/vnd.oci.image.manifest.v1+json");
  assertEquals(m.kind, "manifest");
  if (m.kind !== "manifest") return;
  assertEquals(m.config.digest, d(1));
  assertEquals(m.layers.map((l) => l.size), [20]);
});

Deno.test("parseManifest() trusts the document's mediaType over the Content-Type", () => {
  const docker = { ...manifest, mediaType: MediaType.dockerManifest };
  assertEquals(parseManifest(enc(docker), "application/json").mediaType, MediaType.dockerManifest);
  const { mediaType: _, ...bare } = manifest;
  assertEquals(parseManifest(enc(bare), "application/json").mediaType, MediaType.ociManifest);
  const index = { schemaVersion: 2, manifests: [] };
  assertEquals(parseManifest(enc(index), "").kind, "index");
});

Deno.test("parseManifest() reads Docker manifest lists with platforms", () => {
  const list = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifestList,
    manifests: [{
      mediaType: MediaType.dockerManifest,
      digest: d(3),
      size: 5,
      platform: { os: "linux", architecture: "amd64", variant: "" },
    }],
  };
  const i = parseManifest(enc(list), MediaType.dockerManifestList);
  assertEquals(i.kind, "index");
  if (i.kind === "index") {
    assertEquals(i.manifests[0]!.platform, { os: "linux", architecture: "amd64" });
  }
});

Deno.test("parseManifest() rejects schema 1, bad JSON, bad digests and sizes", () => {
  const bad: [unknown, string, string][] = [
    [{ schemaVersion: 1, mediaType: MediaType.dockerSchema1 }, "", "schema-1"],
    [{ ...manifest, config: { ...manifest.config, digest: "md5:x" } }, "", "config.digest"],
    [{ ...manifest, layers: [{ ...manifest.layers[0], size: -1 }] }, "", "layers[0].size"],
    [{ ...manifest, schemaVersion: 3 }, "", "schemaVersion"],
    [{ mediaType: "application/x-nope" }, "", "unsupported manifest media type"],
  ];
  for (const [doc, ct, msg] of bad) {
    assertThrows(() => parseManifest(enc(doc), ct), SauropodError, msg);
  }
  assertThrows(
    () => parseManifest(new TextEncoder().encode("{nope"), ""),
    SauropodError,
    "not valid JSON",
  );
  assertThrows(() => parseManifest(enc([1]), ""), SauropodError, "not a JSON object");
});

function index(...platforms: [string, string, string?][]): Index {
  return {
    kind: "index",
    mediaType: MediaType.ociIndex,
    manifests: platforms.map(([os, architecture, variant], i) => ({
      mediaType: MediaType.ociManifest,
      digest: d(i + 1),
      size: 1,
      platform: { os, architecture, ...(variant ? { variant } : {}) },
    })),
  };
}

Deno.test("selectPlatform() picks os/arch and prefers the exact variant", () => {
  const amd = { os: "linux", architecture: "amd64" };
  const arm = { os: "linux", architecture: "arm64", variant: "v8" };
  assertEquals(
    selectPlatform(index(["unknown", "unknown"], ["linux", "arm64", "v8"], ["linux", "amd64"]), amd)
      ?.digest,
    d(3),
  );
  // arm64 without a variant is v8; amd64 "v1" is plain amd64.
  assertEquals(selectPlatform(index(["linux", "arm64"]), arm)?.digest, d(1));
  assertEquals(
    selectPlatform(index(["linux", "amd64", "v3"], ["linux", "amd64", "v1"]), amd)
      ?.digest,
    d(2),
  );
  // A compatible variant is a last resort.
  assertEquals(selectPlatform(index(["linux", "amd64", "v3"]), amd)?.digest, d(1));
  assertEquals(selectPlatform(index(["windows", "amd64"], ["linux", "s390x"]), amd), undefined);
});

Deno.test("selectPlatform() skips nested indexes and entries without a platform", () => {
  const i = index(["linux", "amd64"]);
  i.manifests.unshift({ mediaType: MediaType.ociIndex, digest: d(9), size: 1 });
  delete i.manifests[1]!.platform;
  assertEquals(selectPlatform(i, { os: "linux", architecture: "amd64" }), undefined);
});

Deno.test("layerCompression() maps media types and refuses unknown ones", () => {
  assertEquals(layerCompression(MediaType.dockerLayerGzip), "gzip");
  assertEquals(layerCompression(MediaType.ociLayerZstd), "zstd");
  assertEquals(layerCompression(MediaType.ociLayer), "none");
  assertThrows(
    () => layerCompression("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"),
    SauropodError,
    "encrypted",
  );
  assertThrows(() => layerCompression("text/plain"), SauropodError, "unsupported layer");
});

Deno.test("parseImageConfig() reads what containers need and checks diff ids", () => {
  const cfg = {
    architecture: "amd64",
    os: "linux",
    created: "2023-11-14T22:13:20Z",
    config: {
      User: "1000:1000",
      Env: ["PATH=/bin"],
      Entrypoint: null,
      Cmd: ["sh"],
      WorkingDir: "/w",
      StopSignal: "SIGQUIT",
      Volumes: { "/data": {} },
      ExposedPorts: { "80/tcp": {} },
      Labels: { a: "b", n: 1 },
    },
    rootfs: { type: "layers", diff_ids: [d(5)] },
  };
  const c = parseImageConfig(enc(cfg), 1);
  assertEquals(c.config.User, "1000:1000");
  assertEquals(c.config.Entrypoint, undefined);
  assertEquals(c.config.Labels, { a: "b" });
  assertEquals(c.rootfs.diff_ids, [d(5)]);
  assertThrows(() => parseImageConfig(enc(cfg), 2), SauropodError, "2 layers");
  assertThrows(
    () => parseImageConfig(enc({ ...cfg, rootfs: { diff_ids: ["x"] } }), 1),
    SauropodError,
    "diff_ids[0]",
  );
  assertThrows(
    () => parseImageConfig(enc({ ...cfg, config: { Cmd: "sh" } }), 1),
    SauropodError,
    "config.Cmd",
  );
});

Deno.test("parseManifest() errors never quote the registry's document", () => {
  const secret = "SECRET body text";
  const t = new TextEncoder();
  const cases: [Uint8Array, string][] = [
    [t.encode(`<html>${secret}</html>`), "not valid JSON"],
    [t.encode(`{"${secret}`), "not valid JSON"],
    [new Uint8Array([0xff, 0xfe, 0x41]), "not valid UTF-8"],
    [enc({ ...manifest, mediaType: `${secret} <script>` }), "unsupported manifest media type"],
    [enc({ ...manifest, schemaVersion: secret }), "schemaVersion"],
    [enc({ ...manifest, layers: [{ mediaType: "x", digest: secret, size: 1 }] }), "digest"],
    [enc({ ...manifest, layers: [{ mediaType: "x", digest: d(2), size: secret }] }), "size"],
  ];
  for (const [bytes, what] of cases) {
    const err = assertThrows(() => parseManifest(bytes, "application/json"), SauropodError, what);
    assertEquals(err.kind === "invalid-argument" || err.kind === "unimplemented", true);
    assertEquals(err.message.includes("SECRET"), false, err.message);
  }
  // A short value in the grammar of media types is still named, so errors stay useful.
  assertThrows(
    () => parseManifest(enc({ ...manifest, mediaType: "application/vnd.example+json" }), ""),
    SauropodError,
    '"application/vnd.example+json"',
  );
});
