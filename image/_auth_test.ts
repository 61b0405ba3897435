import { assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { Authorizer, decodeBasicAuth, userAndSecret } from "./_auth.ts";

Deno.test("decodeBasicAuth() splits user:password and trims NUL padding", () => {
  assertEquals(decodeBasicAuth(btoa("alice:s3:cret")), { username: "alice", password: "s3:cret" });
  assertEquals(decodeBasicAuth(btoa("bob:pw\0\0")), { username: "bob", password: "pw" });
});

Deno.test("decodeBasicAuth() refuses what is not base64 user:password", () => {
  assertThrows(() => decodeBasicAuth("!!!"), SauropodError, "base64");
  assertThrows(() => decodeBasicAuth(btoa("nocolon")), SauropodError, "user:password");
});

Deno.test("userAndSecret() prefers username, then identity token, then auth", () => {
  assertEquals(userAndSecret(undefined), undefined);
  assertEquals(userAndSecret({}), undefined);
  assertEquals(userAndSecret({ username: "u", password: "p", auth: btoa("x:y") }), {
    username: "u",
    password: "p",
  });
  assertEquals(userAndSecret({ identityToken: "rt" }), { refreshToken: "rt" });
  assertEquals(userAndSecret({ auth: btoa("x:y") }), { username: "x", password: "y" });
});

Deno.test("a malformed token response is refused without quoting it", async () => {
  const secret = "SECRET body text";
  const auth = new Authorizer(
    nullLogger,
    (_url, _init) => Promise.resolve(new Response(`<html>${secret}</html>`, { status: 200 })),
  );
  const err = await assertRejects(
    () =>
      auth.challenge(
        "127.0.0.1:5000",
        new URL("http://127.0.0.1:5000/v2"),
        "repository:r:pull",
        'Bearer realm="http://127.0.0.1:5001/token",service="s"',
        undefined,
        new AbortController().signal,
      ),
    SauropodError,
    "not a JSON object",
  );
  assertEquals(err.message.includes("SECRET"), false, err.message);
});

Deno.test("a token realm the registry may not send us to is refused before any request", async () => {
  let requests = 0;
  const auth = new Authorizer(nullLogger, () => {
    requests++;
    return Promise.resolve(new Response("{}"));
  });
  for (
    const [registry, realm, why] of [
      ["https://registry.example.com/v2", "http://auth.example.com/token", "plain http"],
      ["https://registry.example.com/v2", "https://169.254.169.254/token", "link-local"],
      ["https://registry.example.com/v2", "https://127.0.0.1/token", "loopback"],
    ]
  ) {
    const err = await assertRejects(
      () =>
        auth.challenge(
          "registry.example.com",
          new URL(registry!),
          "repository:r:pull",
          `Bearer realm="${realm}",service="s"`,
          { username: "u", password: "p" },
          new AbortController().signal,
        ),
      SauropodError,
      why,
    );
    assertEquals(err.kind, "permission-denied");
  }
  assertEquals(requests, 0, "no credentials went anywhere");
});
