import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { applyOverrides, checkMetricsAddress, defaultConfig, resolveConfig } from "./mod.ts";

Deno.test("defaultConfig() has the documented defaults", () => {
  const cfg = defaultConfig();
  assertEquals(cfg.socket, "/run/sauropod/sauropod.sock");
  assertEquals(cfg.runtime.binary, "runc");
  assertEquals(cfg.runtime.root, "/run/sauropod/runc");
  assertEquals(cfg.cni.binDirs, ["/opt/cni/bin", "/usr/lib/cni"]);
  assertEquals(cfg.limits.maxRecvMessageBytes, 16 << 20);
});

Deno.test("resolveConfig() rejects an unknown key, naming it and a close match", () => {
  const err = assertThrows(
    () => resolveConfig({ runtime: { bianry: "crun" } }, "x.toml"),
    SauropodError,
    'unknown key "runtime.bianry" (did you mean "runtime.binary"?)',
  );
  assertEquals(err.kind, "invalid-argument");
});

Deno.test("resolveConfig() rejects a bad value, naming the key", () => {
  assertThrows(
    () => resolveConfig({ runtime: { cgroup_driver: "sytemd" } }, "x.toml"),
    SauropodError,
    '"runtime.cgroup_driver" must be one of "cgroupfs", "systemd"',
  );
  assertThrows(
    () => resolveConfig({ stream: { port: 70000 } }, "x.toml"),
    SauropodError,
    '"stream.port" must be at most 65535',
  );
  assertThrows(
    () => resolveConfig({ log: "debug" }, "x.toml"),
    SauropodError,
    '"log" must be a table',
  );
});

Deno.test("resolveConfig() reads mirrors and auths", () => {
  const cfg = resolveConfig({
    image: {
      mirrors: { "docker.io": ["http://127.0.0.1:5000"] },
      auths: { "r.example": { username: "u", password: "p", identity_token: "t" } },
    },
  }, "x.toml");
  assertEquals(cfg.image.mirrors, { "docker.io": ["http://127.0.0.1:5000"] });
  assertEquals(cfg.image.auths, {
    "r.example": { username: "u", password: "p", identityToken: "t" },
  });
  assertThrows(
    () => resolveConfig({ image: { auths: { h: { user: "u" } } } }, "x.toml"),
    SauropodError,
    'unknown key "image.auths.h.user"',
  );
});

Deno.test("applyOverrides() lets flags win over the file", () => {
  const raw: Record<string, unknown> = { runtime: { binary: "runc" }, socket: "/a" };
  applyOverrides(raw, { "runtime.binary": "crun", "log.level": "debug", socket: undefined });
  const cfg = resolveConfig(raw, "t");
  assertEquals([cfg.runtime.binary, cfg.log.level, cfg.socket], ["crun", "debug", "/a"]);
});

Deno.test("resolveConfig() takes annotation allowlists, empty by default, and refuses a bad pattern", () => {
  const cfg = defaultConfig();
  assertEquals([cfg.runtime.podAnnotations, cfg.runtime.containerAnnotations], [[], []]);
  const set = resolveConfig({ runtime: { pod_annotations: ["io.katacontainers.*"] } }, "x.toml");
  assertEquals(set.runtime.podAnnotations, ["io.katacontainers.*"]);
  assertThrows(
    () => resolveConfig({ runtime: { container_annotations: ["ok.*", "bad["] } }, "x.toml"),
    SauropodError,
    '"runtime.container_annotations"[1] is not a valid pattern: "bad[": a [ is not closed',
  );
  assertThrows(
    () => resolveConfig({ runtime: { pod_annotations: "run.oci.*" } }, "x.toml"),
    SauropodError,
    '"runtime.pod_annotations" must be a list of glob patterns',
  );
});

Deno.test("without handler tables, runtime.binary is the one handler, named after it", () => {
  const cfg = resolveConfig(
    { runtime: { binary: "/usr/bin/crun", pod_annotations: ["a/*"] } },
    "x",
  );
  assertEquals(cfg.runtime.defaultHandler, "crun");
  assertEquals(cfg.runtime.handlers, {
    crun: {
      binary: "/usr/bin/crun",
      root: "/run/sauropod/runc",
      options: [],
      podAnnotations: ["a/*"],
      containerAnnotations: [],
    },
  });
});

Deno.test("[runtime.handlers.*] tables: defaults from the name, a default handler required", () => {
  const cfg = resolveConfig({
    runtime: {
      default_handler: "runc",
      handlers: {
        runc: {},
        crun: { options: ["--debug"], container_annotations: ["run.oci.*"] },
      },
    },
  }, "x");
  assertEquals(cfg.runtime.handlers.runc?.binary, "runc");
  assertEquals(cfg.runtime.handlers.runc?.root, "/run/sauropod/runtimes/runc");
  assertEquals(cfg.runtime.handlers.crun?.options, ["--debug"]);
  assertEquals(cfg.runtime.handlers.crun?.containerAnnotations, ["run.oci.*"]);
  assertEquals(cfg.runtime.defaultHandler, "runc");
  assertThrows(
    () => resolveConfig({ runtime: { handlers: { runc: {}, crun: {} } } }, "x"),
    SauropodError,
    '"runtime.default_handler" must name one of the handlers ("runc", "crun")',
  );
  assertThrows(
    () => resolveConfig({ runtime: { default_handler: "kata", handlers: { runc: {} } } }, "x"),
    SauropodError,
    '"runtime.default_handler" "kata" is not a configured handler ("runc")',
  );
});

Deno.test("handler tables refuse the legacy keys, bad names, options and unknown keys", () => {
  assertThrows(
    () => resolveConfig({ runtime: { pod_annotations: ["x"], handlers: { runc: {} } } }, "x"),
    SauropodError,
    '"runtime.pod_annotations" cannot be used together with [runtime.handlers.*]',
  );
  assertThrows(
    () => resolveConfig({ runtime: { handlers: { Runc_1: {} } } }, "x"),
    SauropodError,
    '"runtime.handlers.Runc_1": a handler name must be a DNS label',
  );
  assertThrows(
    () => resolveConfig({ runtime: { handlers: { runc: { options: ["-d"] } } } }, "x"),
    SauropodError,
    '"runtime.handlers.runc.options"[0] "-d" is not a --flag',
  );
  assertThrows(
    () => resolveConfig({ runtime: { handlers: { runc: { bianry: "x" } } } }, "x"),
    SauropodError,
    'unknown key "runtime.handlers.runc.bianry"',
  );
});

Deno.test("metrics: off by default; a non-loopback address is refused unless allowed", () => {
  assertEquals(defaultConfig().metrics, { address: "", allowNonLoopback: false });
  checkMetricsAddress({ address: "127.0.0.1:9101", allowNonLoopback: false });
  checkMetricsAddress({ address: "[::1]:9101", allowNonLoopback: false });
  checkMetricsAddress({ address: "unix:///run/sauropod/metrics.sock", allowNonLoopback: false });
  const err = assertThrows(
    () => checkMetricsAddress({ address: "0.0.0.0:9101", allowNonLoopback: false }),
    SauropodError,
    '"metrics.allow_non_loopback" = true',
  );
  assertEquals(err.kind, "invalid-argument");
  checkMetricsAddress({ address: "0.0.0.0:9101", allowNonLoopback: true });
  assertThrows(
    () => checkMetricsAddress({ address: "localhost:9101", allowNonLoopback: true }),
    SauropodError,
    '"metrics.address": "localhost:9101" is neither',
  );
});
