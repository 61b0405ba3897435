import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { addressClass, fetchFollowing, MAX_REDIRECTS, refusedTarget } from "./_redirects.ts";

Deno.test("addressClass() knows loopback and link-local addresses in every spelling URL allows", () => {
  const cls = (host: string) => addressClass(new URL(`http://${host}/`).hostname);
  for (
    const h of [
      "127.0.0.1",
      "127.1.2.3",
      "2130706433", // 127.0.0.1 as one number
      "0x7f.1",
      "0.0.0.0",
      "localhost",
      "LOCALHOST.",
      "registry.localhost",
      "[::1]",
      "[::]",
      "[0:0:0:0:0:0:0:1]",
      "[::ffff:127.0.0.1]",
    ]
  ) assertEquals(cls(h), "loopback", h);
  for (
    const h of ["169.254.169.254", "169.254.0.1", "[fe80::1]", "[febf::1]", "[::ffff:169.254.1.1]"]
  ) {
    assertEquals(cls(h), "link-local", h);
  }
  for (
    const h of [
      "10.0.0.1",
      "192.168.1.1",
      "8.8.8.8",
      "169.253.1.1",
      "[fec0::1]",
      "[2001:db8::1]",
      "[::ffff:8.8.8.8]",
      "registry-1.docker.io",
      "localhost.example.com",
    ]
  ) assertEquals(cls(h), undefined, h);
});

Deno.test("refusedTarget(): no downgrade, no loopback or link-local unless the registry is one", () => {
  const u = (s: string) => new URL(s);
  const hub = u("https://registry-1.docker.io/v2");
  const local = u("http://127.0.0.1:5000/v2");
  // Ordinary storage redirects are fine.
  assertEquals(refusedTarget(hub, hub, u("https://cdn.example.com/blob?sig=x")), undefined);
  assertEquals(refusedTarget(local, local, u("http://127.0.0.1:6000/blob")), undefined);
  assertEquals(refusedTarget(local, local, u("https://127.0.0.1:6000/blob")), undefined);
  // Refused, each with its reason.
  assertStringIncludes(
    refusedTarget(hub, hub, u("http://cdn.example.com/b"))!,
    "down to plain http",
  );
  assertStringIncludes(
    refusedTarget(hub, u("https://cdn.example.com/"), u("http://cdn.example.com/b"))!,
    "down to plain http",
  );
  assertStringIncludes(refusedTarget(hub, hub, u("https://127.0.0.1/b"))!, "loopback");
  assertStringIncludes(refusedTarget(hub, hub, u("https://localhost/b"))!, "loopback");
  assertStringIncludes(refusedTarget(hub, hub, u("https://[::1]/b"))!, "loopback");
  assertStringIncludes(refusedTarget(hub, hub, u("https://169.254.169.254/b"))!, "link-local");
  assertStringIncludes(refusedTarget(hub, hub, u("https://[fe80::1]/b"))!, "link-local");
  assertStringIncludes(refusedTarget(local, local, u("http://169.254.169.254/b"))!, "link-local");
  assertStringIncludes(refusedTarget(hub, hub, u("file:///etc/passwd"))!, "not http or https");
});

/** A fake server: `routes` maps a URL to a response; every request is recorded. */
function fake(routes: Record<string, () => Response>) {
  const seen: { url: string; init: RequestInit }[] = [];
  const fn = (url: string, init: RequestInit) => {
    seen.push({ url, init });
    const r = routes[url];
    return Promise.resolve(r ? r() : new Response("no route", { status: 404 }));
  };
  return { fn, seen };
}

const redirect = (location: string, status = 307) => () =>
  new Response(null, { status, headers: { location } });

Deno.test("fetchFollowing() follows allowed redirects by hand, keeping headers but not credentials", async () => {
  const registry = new URL("http://127.0.0.1:5000/v2");
  const f = fake({
    "http://127.0.0.1:5000/v2/r/blobs/sha256:a": redirect("/v2/moved"),
    "http://127.0.0.1:5000/v2/moved": redirect("http://127.0.0.1:6000/storage?sig=1", 302),
    "http://127.0.0.1:6000/storage?sig=1": () => new Response("data"),
  });
  const got = await fetchFollowing(
    f.fn,
    new URL("http://127.0.0.1:5000/v2/r/blobs/sha256:a"),
    { headers: { Authorization: "Bearer secret", range: "bytes=10-" } },
    { registry, who: "registry 127.0.0.1:5000", what: "blob sha256:a" },
  );
  assertEquals(await got.res.text(), "data");
  assertEquals(got.crossOrigin, true);
  assertEquals(f.seen.map((s) => s.init.redirect), ["manual", "manual", "manual"]);
  const headers = f.seen.map((s) => s.init.headers as Record<string, string>);
  assertEquals(headers.map((h) => h.Authorization), ["Bearer secret", "Bearer secret", undefined]);
  assertEquals(headers.map((h) => h.range), ["bytes=10-", "bytes=10-", "bytes=10-"]);
});

Deno.test("fetchFollowing() refuses bad targets before connecting, and loops after the hop limit", async () => {
  const registry = new URL("https://registry.example.com/v2");
  const o = { registry, who: "registry registry.example.com", what: "blob sha256:a" };
  const start = new URL("https://registry.example.com/v2/r/blobs/sha256:a");
  for (
    const [target, reason] of [
      ["http://169.254.169.254/latest/meta-data/", "down to plain http"],
      ["https://169.254.169.254/latest/meta-data/", "link-local"],
      ["https://127.0.0.1:2375/containers/json", "loopback"],
      ["https://localhost/x", "loopback"],
    ]
  ) {
    const f = fake({ [start.href]: redirect(target!) });
    const err = await assertRejects(() => fetchFollowing(f.fn, start, {}, o), SauropodError);
    assertEquals(err.kind, "permission-denied");
    assertStringIncludes(err.message, reason!);
    assertStringIncludes(err.message, new URL(target!).origin);
    assert(!err.message.includes("meta-data"), "only the origin is named, not the path");
    assertEquals(f.seen.map((s) => s.url), [start.href], "never connected to the target");
  }
  // A loop stops after MAX_REDIRECTS hops.
  const loop = fake({ [start.href]: redirect(start.href) });
  const err = await assertRejects(() => fetchFollowing(loop.fn, start, {}, o), SauropodError);
  assertStringIncludes(err.message, `more than ${MAX_REDIRECTS} times`);
  assertEquals(loop.seen.length, MAX_REDIRECTS + 1);
  // A request with credentials in its body is never redirected, even to the same origin.
  const post = fake({ [start.href]: redirect("/v2/token2") });
  await assertRejects(
    () => fetchFollowing(post.fn, start, { method: "POST", body: "refresh_token=x" }, o),
    SauropodError,
    "not followed",
  );
  assertEquals(post.seen.length, 1);
  // The first URL is checked too (a token realm is the registry's choice).
  const realm = fake({});
  await assertRejects(
    () => fetchFollowing(realm.fn, new URL("http://169.254.169.254/token"), {}, o),
    SauropodError,
    "refused",
  );
  assertEquals(realm.seen.length, 0);
});
