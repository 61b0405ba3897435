import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { decodeBasicAuth, userAndSecret } from "./_auth.ts";

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
