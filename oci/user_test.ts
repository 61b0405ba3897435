import { assertEquals } from "../testing/assert.ts";
import { assertFails, GROUP, PASSWD } from "./_test_fixtures.ts";
import { parseGroup, parsePasswd, resolveUser, type ResolveUserInput } from "./user.ts";

const resolve = (user: string, more: Partial<ResolveUserInput> = {}) =>
  resolveUser({ user, passwd: PASSWD, group: GROUP, field: "f", ...more });

Deno.test("parsePasswd() skips comments, blank lines and entries with a non-numeric uid", () => {
  assertEquals(parsePasswd(PASSWD).map((u) => u.name), ["root", "daemon", "app", "web"]);
  assertEquals(parsePasswd(PASSWD)[2], { name: "app", uid: 1000, gid: 1000, home: "/home/app" });
});

Deno.test("parseGroup() reads member lists and trims members", () => {
  const groups = parseGroup(GROUP);
  assertEquals(groups.find((g) => g.name === "extra"), {
    name: "extra",
    gid: 2000,
    members: ["app", "web"],
  });
  assertEquals(groups.find((g) => g.name === "video")?.members, ["app"]);
  assertEquals(groups.find((g) => g.name === "root")?.members, []);
});

Deno.test("resolveUser() of an empty user string is root with its groups", () => {
  assertEquals(resolve(""), { uid: 0, gid: 0, additionalGids: [0], username: "root" });
});

Deno.test("resolveUser() of a uid in passwd takes its primary group and memberships", () => {
  // app: primary 1000, member of extra (2000) and video (44); "app" group itself is skipped
  // as containerd does, but its gid is the primary anyway.
  assertEquals(resolve("1000"), {
    uid: 1000,
    gid: 1000,
    additionalGids: [44, 1000, 2000],
    username: "app",
  });
});

Deno.test("resolveUser() of a uid not in passwd runs with gid 0 and no memberships", () => {
  assertEquals(resolve("4242"), { uid: 4242, gid: 0, additionalGids: [0] });
});

Deno.test("resolveUser() of uid:gid uses both numbers as given", () => {
  assertEquals(resolve("1000:5000"), {
    uid: 1000,
    gid: 5000,
    additionalGids: [44, 2000, 5000],
    username: "app",
  });
  assertEquals(resolve("4242:4343"), { uid: 4242, gid: 4343, additionalGids: [4343] });
});

Deno.test("resolveUser() of a name takes uid and gid from passwd", () => {
  assertEquals(resolve("web"), {
    uid: 33,
    gid: 33,
    additionalGids: [29, 33, 2000],
    username: "web",
  });
});

Deno.test("resolveUser() of name:group and uid:group looks the group up in /etc/group", () => {
  assertEquals(resolve("web:extra").gid, 2000);
  assertEquals(resolve("web:extra").uid, 33);
  assertEquals(resolve("4242:audio"), { uid: 4242, gid: 29, additionalGids: [29] });
  assertEquals(resolve("app:7").gid, 7);
});

Deno.test("resolveUser() of an unknown name fails naming the field", () => {
  assertFails(
    () => resolve("nobody", { field: "container.linux.security_context.run_as_username" }),
    "invalid-argument",
    'container.linux.security_context.run_as_username: user "nobody" not found',
  );
  assertFails(() => resolve("app:nogroup"), "invalid-argument", 'f: group "nogroup" not found');
});

Deno.test("resolveUser() of a name without a passwd file says the image has none", () => {
  assertFails(
    () => resolveUser({ user: "app", field: "image config User" }),
    "invalid-argument",
    "(the image has none)",
  );
  // A uid needs no passwd file.
  assertEquals(resolveUser({ user: "7", field: "f" }), { uid: 7, gid: 0, additionalGids: [0] });
});

Deno.test("resolveUser() refuses malformed and out-of-range ids", () => {
  assertFails(() => resolve("1:2:3"), "invalid-argument", 'invalid user "1:2:3"');
  assertFails(() => resolve(":5"), "invalid-argument", "invalid user");
  assertFails(() => resolve("2147483648"), "invalid-argument", "uid 2147483648 is out of range");
  assertFails(
    () => resolve("0:99999999999"),
    "invalid-argument",
    "gid 99999999999 is out of range",
  );
});

Deno.test("resolveUser() merges supplemental groups sorted and without duplicates", () => {
  assertEquals(resolve("app", { supplementalGroups: [3000, 44, 1000, 5] }).additionalGids, [
    5,
    44,
    1000,
    2000,
    3000,
  ]);
});

Deno.test("resolveUser() with the strict policy ignores /etc/group memberships", () => {
  assertEquals(resolve("app", { policy: "strict", supplementalGroups: [3000] }), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 3000],
    username: "app",
  });
});
