import { assert, assertEquals } from "../testing/assert.ts";
import { ImageIndex, MIN_ID_PREFIX } from "./_index.ts";
import type { StoredImage } from "./_store.ts";

const hex = (c: string, prefix = "") => prefix + c.repeat(64 - prefix.length);

function image(id: string, chains: string[] = [], pulledAtNs = 1n): StoredImage {
  return {
    id,
    manifestDigest: `sha256:${hex("e")}`,
    manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
    facts: {
      summary: {
        user: "",
        env: [],
        entrypoint: [],
        cmd: ["sh"],
        workingDir: "",
        stopSignal: "",
        volumes: [],
        labels: {},
        exposedPorts: [],
      },
    },
    layers: chains.map((c, i) => ({
      digest: `sha256:${hex(String(i + 1))}`,
      size: 1,
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      diffId: c,
    })),
    chainIds: chains,
    size: 10,
    pulledAtNs,
  };
}

const A = `sha256:${hex("a", "abcdef0123456")}`;
const B = `sha256:${hex("b", "abcdef0123457")}`;
const C = `sha256:${hex("c")}`;

Deno.test("ImageIndex.resolve(): full ids, names, then id prefixes of at least 12 hex", () => {
  const idx = new ImageIndex(new Set(), [image(A), image(B), image(C)], [
    { name: "docker.io/library/busybox:latest", imageId: A, target: A },
  ]);
  assertEquals(MIN_ID_PREFIX, 12);
  // Full ids, with and without the algorithm.
  assertEquals(idx.resolve(A)?.id, A);
  assertEquals(idx.resolve(A.slice(7))?.id, A);
  assertEquals(idx.resolve(`sha256:${hex("d")}`), undefined);
  // Names, normalised.
  assertEquals(idx.resolve("busybox")?.id, A);
  assertEquals(idx.resolve("docker.io/library/busybox:latest")?.id, A);
  // Prefixes: 12 hex and more, unique.
  assertEquals(idx.resolve(C.slice(7, 19))?.id, C);
  assertEquals(idx.resolve(`sha256:${C.slice(7, 20)}`)?.id, C); // crictl's 13
  assertEquals(idx.resolve(A.slice(7, 20))?.id, A);
  assertEquals(idx.resolve(A.slice(7, 19)), undefined, "ambiguous: A and B share 12");
  // Shorter than 12: never an id, whatever it matches (the review's `image: "a"`).
  for (let n = 1; n < MIN_ID_PREFIX; n++) {
    assertEquals(idx.resolve(C.slice(7, 7 + n)), undefined, `${n} hex`);
    assertEquals(idx.resolve(`sha256:${C.slice(7, 7 + n)}`), undefined, `sha256: + ${n} hex`);
  }
  assertEquals(idx.resolve("a"), undefined);
  assertEquals(idx.resolve(""), undefined);
  assertEquals(idx.resolve("ABCDEF0123456"), undefined, "upper case is a name, not an id");
});

Deno.test("ImageIndex.resolve(): a one-character name resolves as that name only", () => {
  const idx = new ImageIndex(new Set(), [image(A), image(C)], [
    { name: "docker.io/library/c:latest", imageId: A, target: A },
  ]);
  assertEquals(idx.resolve("c")?.id, A, "the image named c, not the id starting with c");
});

Deno.test("ImageIndex.put() moves names, keeps the first pull's time, and tracks keep sets", () => {
  const idx = new ImageIndex(new Set(["docker.io/library/pause:3"]), [], []);
  const g0 = idx.generation;
  const a = idx.put(image(A, ["sha256:" + hex("1")], 5n), [
    { name: "docker.io/library/x:latest", target: A },
    { name: "docker.io/library/pause:3", target: A },
  ]);
  assertEquals(a.repoTags, ["docker.io/library/pause:3", "docker.io/library/x:latest"]);
  assertEquals(a.pinned, true);
  assert(idx.generation > g0);
  assert(idx.keep().chains.has("sha256:" + hex("1")));
  assert(idx.keep().blobs.has(A));
  // The tag moves to B; A keeps its other name and stays listed.
  const g1 = idx.generation;
  idx.put(image(B, ["sha256:" + hex("2")], 6n), [{
    name: "docker.io/library/x:latest",
    target: B,
  }]);
  assert(idx.generation > g1);
  assertEquals(idx.get(A)?.repoTags, ["docker.io/library/pause:3"]);
  assertEquals(idx.resolve("x")?.id, B);
  // A re-pull keeps the first pull's time and place.
  idx.put(image(A, ["sha256:" + hex("1")], 9n), [{ name: "docker.io/library/y:1", target: A }]);
  assertEquals(idx.get(A)?.pulledAtNs, 5n);
  assertEquals(idx.records().map((r) => r.id), [A, B]);
  // Removal forgets names and keep sets at once.
  idx.delete(A);
  assertEquals(idx.resolve("y:1"), undefined);
  assertEquals(idx.resolve("pause:3"), undefined);
  assert(!idx.keep().chains.has("sha256:" + hex("1")));
  assert(idx.keep().chains.has("sha256:" + hex("2")));
});
