import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { SHIM_V8_FLAGS, shimArgv } from "./_argv.ts";
import { isShimCmdline } from "./_proc.ts";

Deno.test("shimArgv() scopes the shim to its state dir, log dir, runtime and socket", () => {
  const argv = shimArgv({
    entry: "/opt/sauropod/main.ts",
    id: "abc",
    stateDir: "/run/sauropod/shims/abc",
    runtimeBinary: "/usr/sbin/runc",
    logPath: "/var/log/pods/ns_pod_uid/ctr/0.log",
  });
  assertEquals(argv, [
    "run",
    "--no-prompt",
    "--allow-read=/run/sauropod/shims/abc",
    "--allow-write=/run/sauropod/shims/abc,/var/log/pods/ns_pod_uid/ctr",
    "--allow-run=/usr/sbin/runc",
    "--allow-net=unix:/run/sauropod/shims/abc/ctl",
    "--allow-ffi",
    `--v8-flags=${SHIM_V8_FLAGS.join(",")}`,
    "/opt/sauropod/main.ts",
    "shim",
    "--id",
    "abc",
    "--state-dir",
    "/run/sauropod/shims/abc",
    "--log-level",
    "info",
  ]);
  assert(!argv.some((a) => a === "-A" || a === "--allow-all" || a.startsWith("--allow-env")));
});

Deno.test("shimArgv() refuses a path that would split a permission list", () => {
  assertThrows(
    () => shimArgv({ entry: "/m.ts", id: "x", stateDir: "/s,t", runtimeBinary: "/r" }),
    RangeError,
    "comma",
  );
});

Deno.test("isShimCmdline() matches the shim of that container only", () => {
  const cmd = ["deno", "run", "/m.ts", "shim", "--id", "abc", "--state-dir", "/s"].join("\0");
  assertEquals(isShimCmdline(cmd, "abc"), true);
  assertEquals(isShimCmdline(cmd, "ab"), false);
  assertEquals(isShimCmdline(["sleep", "--id", "abc"].join("\0"), "abc"), false);
});
