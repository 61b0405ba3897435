/**
 * Pulls against a real registry (`docker-registry`) with the fixture images: tags,
 * digests, indexes, mirrors, basic auth, bearer tokens, concurrency, corruption,
 * interruption and resumption.
 */
import {
  assert,
  assertEquals,
  assertExists,
  assertRejects,
  assertStringIncludes,
} from "../testing/assert.ts";
import { kindOf, SauropodError } from "../errors/mod.ts";
import { testRegistry } from "../tests/fixtures/images.ts";
import { freePort, startRegistry } from "../tests/fixtures/registry.ts";
import { startTokenServer } from "../tests/fixtures/token_server.ts";
import { startProxy } from "../tests/fixtures/proxy.ts";
import { cannotRun, openTestService } from "./_test_env.ts";

const ignore = cannotRun();

/** GETs of blob `digest` among `requests`. */
function blobGets(requests: string[], digest: string): number {
  return requests.filter((r) => r.startsWith("GET ") && r.endsWith(`/blobs/${digest}`)).length;
}

Deno.test({
  name: "image pulls from a real registry",
  ignore: ignore !== undefined,
  sanitizeResources: false, // the fetch connection pool outlives single steps
  async fn(t) {
    await using env = await testRegistry();
    const img = env.images;

    await t.step("pull by tag records the tag, the repo digest and the config digest", async () => {
      await using ts = await openTestService();
      const r = await ts.svc.pull(img.busybox.ref);
      assertEquals(r.id, img.busybox.id);
      assertEquals(r.repoTags, [img.busybox.ref]);
      assertEquals(r.repoDigests, [`${img.busybox.repo}@${img.busybox.digest}`]);
      assertEquals(r.config.cmd, ["sh"]);
      assertStringIncludes(r.config.env.join(" "), "PATH=");
      assertEquals(r.chainIds.length, 1);
      assert(r.size > 1_000_000, `size ${r.size}`);
      assertEquals(ts.svc.resolve("sha256:" + r.id.slice(7, 19))?.id, r.id); // id prefix
      assertEquals(ts.svc.resolve(r.id.slice(7, 19))?.id, r.id);
      assertEquals(ts.svc.resolve(`${img.busybox.repo}@${img.busybox.digest}`)?.id, r.id);
      // A second pull re-resolves the tag but downloads nothing.
      const before = ts.requests.length;
      await ts.svc.pull(img.busybox.ref);
      const again = ts.requests.slice(before);
      assertEquals(again.filter((x) => x.includes("/blobs/")).length, 0, again.join("\n"));
      assertEquals(ts.ingest(), []);
    });

    await t.step("pull by digest names the image by digest only", async () => {
      await using ts = await openTestService();
      const ref = `${img.busybox.repo}@${img.busybox.digest}`;
      const r = await ts.svc.pull(ref);
      assertEquals(r.repoTags, []);
      assertEquals(r.repoDigests, [ref]);
      assertEquals(ts.svc.resolve(img.busybox.ref), undefined);
    });

    await t.step("several tags of one image are one image", async () => {
      await using ts = await openTestService();
      for (const ref of [img.busybox.ref, ...img.busyboxTags]) await ts.svc.pull(ref);
      const all = ts.svc.list();
      assertEquals(all.length, 1);
      assertEquals(all[0]!.repoTags.sort(), [img.busybox.ref, ...img.busyboxTags].sort());
      assertEquals(ts.snapshotDirs().length, 1);
    });

    await t.step("an OCI index and a Docker manifest list yield linux/amd64", async () => {
      await using ts = await openTestService();
      for (const p of [img.multiarch, img.multiarchDocker]) {
        const r = await ts.svc.pull(p.ref);
        assertEquals(r.config.labels["sauropod.test/platform"], "linux/amd64");
        assertEquals(r.repoDigests.includes(`${p.repo}@${p.digest}`), true);
      }
      // The platform manifest itself is pullable by digest too.
      const direct = await ts.svc.pull(`${img.multiarch.repo}@${img.multiarchAmd64Manifest}`);
      assertEquals(direct.config.labels["sauropod.test/platform"], "linux/amd64");
    });

    await t.step("the config's USER is kept as written", async () => {
      await using ts = await openTestService();
      assertEquals((await ts.svc.pull(img.userUid.ref)).config.user, "1000");
      assertEquals((await ts.svc.pull(img.userName.ref)).config.user, "sauropod");
      assertEquals((await ts.svc.pull(img.userUidGid.ref)).config.user, "1000:1000");
    });

    await t.step("bad references, unknown tags and dead registries fail clearly", async () => {
      await using ts = await openTestService();
      const bad = await assertRejects(() => ts.svc.pull("Not/Valid"), SauropodError);
      assertEquals(bad.kind, "invalid-argument");
      const missing = await assertRejects(
        () => ts.svc.pull(`${img.busybox.repo}:no-such-tag`),
        SauropodError,
        "not found",
      );
      assertEquals(missing.kind, "not-found");
      const repoMissing = await assertRejects(
        () => ts.svc.pull(`${img.host}/no/such/repo:latest`),
        SauropodError,
      );
      assertEquals(repoMissing.kind, "not-found");
      const dead = `127.0.0.1:${freePort()}`;
      const down = await assertRejects(() => ts.svc.pull(`${dead}/x:1`), SauropodError, dead);
      assertEquals(down.kind, "unavailable");
      assertEquals(ts.svc.list(), []);
      assertEquals(ts.ingest(), []);
    });

    await t.step("mirrors are tried in order, a dead one falls through", async () => {
      const dead = `http://127.0.0.1:${freePort()}`;
      await using ts = await openTestService({
        image: { mirrors: { "docker.io": [dead, `http://${img.host}`] } },
      });
      const r = await ts.svc.pull("busybox");
      assertEquals(r.id, img.busybox.id);
      assertEquals(r.repoTags, ["docker.io/library/busybox:latest"]);
      assertEquals(ts.svc.resolve("busybox:latest")?.id, r.id);
      assert(ts.requests.some((x) => x.includes(dead)), "the dead mirror was tried first");
      assert(!ts.requests.some((x) => x.includes("docker.io")), "never left loopback");
    });

    await t.step("a pull-through cache registry works as a mirror", async () => {
      await using mirror = await startRegistry({ proxy: { remoteUrl: `http://${img.host}` } });
      await using ts = await openTestService({
        image: { mirrors: { "docker.io": [`http://${mirror.host}`] } },
      });
      const r = await ts.svc.pull("docker.io/library/busybox:1.35");
      assertEquals(r.id, img.busybox.id);
      assert(ts.requests.every((x) => x.includes(mirror.host)));
    });

    await t.step("concurrent pulls of one image fetch each blob once", async () => {
      await using ts = await openTestService();
      // Regression: unpack slots held by upper layers waiting for lower ones deadlocked.
      const [a, b, c, deep] = await Promise.all([
        ts.svc.pull(img.links.ref),
        ts.svc.pull(img.links.ref),
        ts.svc.pull(img.whiteouts.ref), // shares the base layer
        ts.svc.pull(img.deep.ref),
      ]);
      assertEquals(a.id, b.id);
      assertExists(c);
      assertEquals(deep.chainIds.length, img.deep.layers.length);
      for (const l of [...img.links.layers, ...img.whiteouts.layers, ...img.deep.layers]) {
        assertEquals(blobGets(ts.requests, l.digest), 1, `layer ${l.digest}`);
      }
      assertEquals(blobGets(ts.requests, img.links.id), 1, "config");
    });

    await t.step("a corrupted blob is discarded with a clear error", async () => {
      await using proxy = startProxy(img.host);
      const layer = img.links.layers.at(-1)!.digest;
      proxy.fault = (r) => r.path.endsWith(`/blobs/${layer}`) ? { kind: "corrupt" } : undefined;
      await using ts = await openTestService();
      const ref = img.links.ref.replace(img.host, proxy.host);
      const err = await assertRejects(() => ts.svc.pull(ref), SauropodError, "verification");
      assertStringIncludes(err.message, layer);
      assertEquals(ts.ingest(), []);
      assertEquals(
        await Deno.stat(`${ts.root}/images/blobs/sha256/${layer.slice(7)}`).then(
          () => true,
          () => false,
        ),
        false,
      );
      proxy.fault = undefined;
      assertEquals((await ts.svc.pull(ref)).id, img.links.id);
    });

    await t.step("a cut download resumes with a Range request", async () => {
      await using proxy = startProxy(img.host);
      const layer = img.busybox.layers[0]!.digest;
      let cut = false;
      proxy.fault = (r) => {
        if (!r.path.endsWith(`/blobs/${layer}`) || cut) return undefined;
        cut = true;
        return { kind: "cut", afterBytes: 300_000 };
      };
      await using ts = await openTestService();
      const r = await ts.svc.pull(img.busybox.ref.replace(img.host, proxy.host));
      assertEquals(r.id, img.busybox.id);
      const ranged = proxy.requests.filter((x) => x.path.endsWith(layer) && x.range);
      assertEquals(ranged.length, 1);
      assertEquals(ranged[0]!.range, "bytes=300000-");
    });

    await t.step("transient 503s are retried", async () => {
      await using proxy = startProxy(img.host);
      let failures = 2;
      proxy.fault = (r) =>
        r.path.includes("/manifests/") && failures-- > 0
          ? { kind: "status", status: 503 }
          : undefined;
      await using ts = await openTestService();
      assertEquals(
        (await ts.svc.pull(img.pause.ref.replace(img.host, proxy.host))).id,
        img.pause.id,
      );
    });

    await t.step(
      "an interrupted pull leaves nothing behind and a later pull succeeds",
      async () => {
        await using proxy = startProxy(img.host);
        const layer = img.deep.layers[0]!.digest;
        proxy.fault = (r) =>
          r.path.endsWith(`/blobs/${layer}`) ? { kind: "stall", afterBytes: 100_000 } : undefined;
        await using ts = await openTestService();
        const ref = img.deep.ref.replace(img.host, proxy.host);
        const abort = new AbortController();
        const pulling = ts.svc.pull(ref, { signal: abort.signal });
        await proxy.stalled();
        abort.abort();
        const err = await assertRejects(() => pulling, SauropodError);
        assertEquals(err.kind, "canceled");
        assertEquals(ts.svc.list(), []);
        assertEquals(ts.ingest(), []);
        // Layers that finished may stay (they are complete and reusable); none is half done.
        await ts.reopen();
        assertEquals(ts.svc.list(), []);
        proxy.fault = undefined;
        const r = await ts.svc.pull(ref);
        assertEquals(r.chainIds.length, img.deep.layers.length);
        assertEquals(ts.snapshotDirs().length, img.deep.layers.length);
      },
    );

    await t.step(
      "redirects are followed by hand: to allowed places, without credentials, bounded",
      async () => {
        // The registry the pull names (front) sends blobs to another origin, as registries
        // send them to object storage.
        await using storage = startProxy(img.host);
        await using front = startProxy(img.host);
        front.fault = (r) =>
          r.path.includes("/blobs/")
            ? { kind: "redirect", location: `http://${storage.host}${r.path}?sig=1` }
            : undefined;
        {
          await using ts = await openTestService();
          const r = await ts.svc.pull(img.busybox.ref.replace(img.host, front.host), {
            auth: { registryToken: "front-only-secret" },
          });
          assertEquals(r.id, img.busybox.id);
          const atFront = front.requests.filter((x) => x.path.includes("/manifests/"));
          assert(atFront.length > 0);
          for (const x of atFront) assertEquals(x.authorization, "Bearer front-only-secret");
          const atStorage = storage.requests.filter((x) => x.path.includes("/blobs/"));
          assertEquals(atStorage.length, 1 + img.busybox.layers.length, "config and layers");
          for (const x of atStorage) assertEquals(x.authorization, null, "no credentials");
        }
        // To the cloud metadata address: refused before connecting, the reason named.
        front.fault = (r) =>
          r.path.includes("/blobs/")
            ? { kind: "redirect", location: "http://169.254.169.254/latest/meta-data/iam" }
            : undefined;
        {
          await using ts = await openTestService();
          const err = await assertRejects(
            () => ts.svc.pull(img.pause.ref.replace(img.host, front.host)),
            SauropodError,
            "to http://169.254.169.254, refused: it is a link-local address",
          );
          assertEquals(err.kind, "permission-denied");
          assert(!err.message.includes("meta-data"), err.message);
          assertEquals(ts.svc.list(), []);
        }
        // A loop ends after a bounded number of hops.
        front.fault = (r) =>
          r.path.includes("/manifests/")
            ? { kind: "redirect", location: `http://${front.host}${r.path}` }
            : undefined;
        {
          await using ts = await openTestService();
          const before = front.requests.length;
          await assertRejects(
            () => ts.svc.pull(img.pause.ref.replace(img.host, front.host)),
            SauropodError,
            "more than 10 times",
          );
          assertEquals(front.requests.length - before, 11);
        }
      },
    );

    await t.step("a stalled download hits the progress timeout", async () => {
      await using proxy = startProxy(img.host);
      const layer = img.pause.layers[0]!.digest;
      proxy.fault = (r) =>
        r.path.endsWith(`/blobs/${layer}`) ? { kind: "stall", afterBytes: 1000 } : undefined;
      await using ts = await openTestService({ image: { pullProgressTimeoutSeconds: 1 } });
      const err = await assertRejects(
        () => ts.svc.pull(img.pause.ref.replace(img.host, proxy.host)),
        SauropodError,
        "no progress",
      );
      assertEquals(kindOf(err), "deadline-exceeded");
      assertEquals(ts.ingest(), []);
    });
  },
});

Deno.test({
  name: "image pulls with registry authentication",
  ignore: ignore !== undefined,
  sanitizeResources: false,
  async fn(t) {
    const user = "alice";
    const password = "correct horse";
    await using env = await testRegistry({ htpasswd: { user, password } });
    const img = env.images;

    await t.step("basic auth from the CRI request, in both spellings", async () => {
      await using ts = await openTestService();
      assertEquals(
        (await ts.svc.pull(img.pause.ref, { auth: { username: user, password } })).id,
        img.pause.id,
      );
      await using ts2 = await openTestService();
      const auth = btoa(`${user}:${password}`);
      assertEquals(
        (await ts2.svc.pull(img.pause.ref, { auth: { auth, serverAddress: img.host } })).id,
        img.pause.id,
      );
    });

    await t.step("basic auth from the node configuration", async () => {
      await using ts = await openTestService({
        image: { auths: { [img.host]: { username: user, password } } },
      });
      assertEquals((await ts.svc.pull(img.pause.ref)).id, img.pause.id);
    });

    await t.step("wrong or missing credentials are refused clearly", async () => {
      await using ts = await openTestService();
      const wrong = await assertRejects(
        () => ts.svc.pull(img.pause.ref, { auth: { username: user, password: "nope" } }),
        SauropodError,
        "refused the credentials",
      );
      assertEquals(wrong.kind, "permission-denied");
      const none = await assertRejects(() => ts.svc.pull(img.pause.ref), SauropodError, "username");
      assertEquals(none.kind, "permission-denied");
      // Credentials for another registry are not sent here.
      const other = await assertRejects(
        () =>
          ts.svc.pull(img.pause.ref, {
            auth: { username: user, password, serverAddress: "other.example" },
          }),
        SauropodError,
      );
      assertEquals(other.kind, "permission-denied");
      assertEquals(ts.svc.list(), []);
    });
  },
});

Deno.test({
  name: "image pulls through the bearer token flow",
  ignore: ignore !== undefined,
  sanitizeResources: false,
  async fn(t) {
    await using tokens = await startTokenServer({
      users: { bob: "builder" },
      refreshTokens: { bob: "bobs-identity-token" },
    });
    const token = {
      realm: tokens.realm,
      service: tokens.service,
      issuer: tokens.issuer,
      rootCertBundle: tokens.rootCertBundle,
    };
    await using reg = await startRegistry({ token });
    const { pushTestImages } = await import("../tests/fixtures/images.ts");
    const img = await pushTestImages(reg.host, { auth: { user: "bob", password: "builder" } });

    await t.step("anonymous pulls get a token and reuse it", async () => {
      await using ts = await openTestService();
      const before = tokens.requests();
      assertEquals((await ts.svc.pull(img.links.ref)).id, img.links.id);
      assertEquals(tokens.requests() - before, 1, "one token for the whole pull");
    });

    await t.step("an identity token is exchanged through the refresh-token grant", async () => {
      await using ts = await openTestService();
      const r = await ts.svc.pull(img.links.ref, {
        auth: { identityToken: "bobs-identity-token" },
      });
      assertEquals(r.id, img.links.id);
      const err = await assertRejects(
        () => ts.svc.pull(img.pause.ref, { auth: { identityToken: "stolen" } }),
        SauropodError,
        "refused the credentials",
      );
      assertEquals(err.kind, "permission-denied");
    });

    await t.step("a registry token is sent as the bearer token, no token request", async () => {
      await using ts = await openTestService();
      const before = tokens.requests();
      const registryToken = await tokens.token("bob", "pause");
      assertEquals(
        (await ts.svc.pull(img.pause.ref, { auth: { registryToken } })).id,
        img.pause.id,
      );
      assertEquals(tokens.requests(), before);
    });

    await t.step("a token service that refuses the credentials is a clear error", async () => {
      await using ts = await openTestService();
      const err = await assertRejects(
        () => ts.svc.pull(img.pause.ref, { auth: { username: "bob", password: "wrong" } }),
        SauropodError,
        "token service",
      );
      assertEquals(err.kind, "permission-denied");
      assertEquals(
        (await ts.svc.pull(img.pause.ref, { auth: { username: "bob", password: "builder" } })).id,
        img.pause.id,
      );
    });
  },
});
