import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { SauropodError } from "../../errors/mod.ts";
import { parseHello, parseRequest } from "./_validate.ts";

const runtime = {
  binary: "/usr/sbin/runc",
  root: "/run/r",
  systemdCgroup: false,
  callTimeoutMs: 1000,
};

Deno.test("parseRequest() accepts a create and fills stdinOnce", () => {
  const r = parseRequest(JSON.stringify({
    seq: 1,
    op: "create",
    params: { bundle: "/b", runtime, tty: false, stdin: true },
  }));
  assertEquals(r, {
    seq: 1,
    op: "create",
    params: { bundle: "/b", runtime, tty: false, stdin: true, stdinOnce: false },
  });
});

Deno.test("parseRequest() names the field that is wrong", () => {
  const cases: [unknown, string][] = [
    [
      { seq: 1, op: "create", params: { bundle: "b", runtime, tty: false, stdin: false } },
      "create.bundle",
    ],
    [{
      seq: 1,
      op: "create",
      params: { bundle: "/b", runtime: { ...runtime, callTimeoutMs: 0 }, tty: false, stdin: false },
    }, "create.runtime.callTimeoutMs"],
    [{ seq: 1, op: "kill", params: { signal: 99 } }, "kill.signal"],
    [{ seq: 1, op: "resize", params: { width: -1, height: 2 } }, "resize.width"],
    [{ seq: 1, op: "explode" }, "request.op"],
    [{ op: "state" }, "request.seq"],
  ];
  for (const [req, field] of cases) {
    const err = assertThrows(() => parseRequest(JSON.stringify(req)), SauropodError, field);
    assertEquals(err.kind, "invalid-argument");
  }
  assertThrows(() => parseRequest("{not json"), SauropodError, "not JSON");
});

Deno.test("parseHello() reads the three kinds and validates an exec's command", () => {
  assertEquals(parseHello('{"v":1,"id":"c","kind":"control"}'), { v: 1, id: "c", kind: "control" });
  assertEquals(
    parseHello('{"v":1,"id":"c","kind":"attach","stdin":true,"stdout":true,"stderr":false}'),
    { v: 1, id: "c", kind: "attach", stdin: true, stdout: true, stderr: false },
  );
  assertEquals(
    parseHello(JSON.stringify({
      v: 1,
      id: "c",
      kind: "exec",
      exec: { args: ["ls"], env: ["A=b"], tty: false, stdin: false, timeoutMs: 5 },
    })),
    {
      v: 1,
      id: "c",
      kind: "exec",
      exec: { args: ["ls"], env: ["A=b"], tty: false, stdin: false, timeoutMs: 5 },
    },
  );
  assertThrows(
    () => parseHello('{"v":1,"id":"c","kind":"exec","exec":{"args":[],"tty":false,"stdin":false}}'),
    SauropodError,
    "exec.args",
  );
  assertThrows(
    () =>
      parseHello(
        '{"v":1,"id":"c","kind":"exec","exec":{"args":["x"],"env":["NOEQUALS"],"tty":false,"stdin":false}}',
      ),
    SauropodError,
    "KEY=value",
  );
  assertThrows(() => parseHello('{"v":1,"id":"c","kind":"other"}'), SauropodError, "hello.kind");
});
