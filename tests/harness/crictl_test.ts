/**
 * The test crictl's pure parts: its reading of config files (crictl's Go JSON rules), flags
 * (urfave/cli's), the shell subset README's commands use, and crictl's output formats.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../testing/assert.ts";
import { NamespaceMode } from "../../api/gen/api.ts";
import {
  ConfigError,
  humanDuration,
  loadContainerConfig,
  loadPodSandboxConfig,
  parseFlags,
  parseShellLine,
  table,
  UsageError,
} from "./crictl.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

async function withJson<T>(json: unknown, fn: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(path, typeof json === "string" ? json : JSON.stringify(json));
    return await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

const META = { metadata: { name: "p", namespace: "ns", uid: "u" } };

Deno.test("loadPodSandboxConfig() reads examples/pod.json as crictl would send it", async () => {
  const { config, warnings } = await loadPodSandboxConfig(`${ROOT}/examples/pod.json`);
  assertEquals(config.metadata?.namespace, "default");
  assert(config.logDirectory.startsWith("/var/log/pods/default_first-pod_"));
  assertEquals(config.linux?.securityContext?.namespaceOptions?.pid, NamespaceMode.CONTAINER);
  assertEquals(config.labels["io.kubernetes.pod.name"], "first-pod");
  assertEquals(warnings.length, 1, "no cgroup_parent: crictl warns");
});

Deno.test("config keys are the proto's snake_case names, any case; camelCase is refused", async () => {
  const ok = await withJson(
    { ...META, Log_Directory: "/var/log/pods/x", LINUX: { cgroup_parent: "/a" } },
    loadPodSandboxConfig,
  );
  assertEquals(ok.config.logDirectory, "/var/log/pods/x");
  assertEquals(ok.config.linux?.cgroupParent, "/a");
  assertEquals(ok.warnings, []);
  const err = await assertRejects(
    () => withJson({ ...META, logDirectory: "/x" }, loadPodSandboxConfig),
    ConfigError,
  );
  assert(err.message.includes('crictl spells it "log_directory"'), err.message);
  await assertRejects(
    () => withJson({ ...META, log_dir: "/x" }, loadPodSandboxConfig),
    ConfigError,
    'no field "log_dir"',
  );
});

Deno.test("config values follow Go: enums and integers are numbers, bytes are base64", async () => {
  const pid = (v: unknown) => ({ ...META, linux: { security_context: { namespace_options: v } } });
  await assertRejects(
    () => withJson(pid({ pid: "CONTAINER" }), loadPodSandboxConfig),
    ConfigError,
    "crictl takes enums as numbers",
  );
  await assertRejects(
    () => withJson(pid({ pid: 1.5 }), loadPodSandboxConfig),
    ConfigError,
    "cannot unmarshal number",
  );
  const c = await withJson({
    metadata: { name: "c" },
    envs: [{ key: "A", value: btoa("b=1") }],
    linux: { resources: { memory_limit_in_bytes: 67108864, oom_score_adj: -5 } },
    tty: true,
    args: null,
  }, loadContainerConfig);
  assertEquals(new TextDecoder().decode(c.envs[0]!.value), "b=1");
  assertEquals(c.linux?.resources?.memoryLimitInBytes, 67108864n);
  assertEquals(c.linux?.resources?.oomScoreAdj, -5n);
  assertEquals(c.tty, true);
  assertEquals(c.args, []);
  await assertRejects(
    () => withJson({ metadata: { name: "c" }, tty: "true" }, loadContainerConfig),
    ConfigError,
    "tty: cannot unmarshal string into BOOL",
  );
  await assertRejects(
    () =>
      withJson(
        { metadata: { name: "c" }, envs: [{ key: "A", value: "not base64!" }] },
        loadContainerConfig,
      ),
    ConfigError,
    "base64",
  );
});

Deno.test("pod configs get crictl's checks and defaults: metadata, namespace, a fresh uid", async () => {
  const { config } = await withJson(
    { metadata: { name: "p", namespace: "ns" } },
    loadPodSandboxConfig,
  );
  assert(/^[0-9a-f-]{36}$/.test(config.metadata!.uid), config.metadata!.uid);
  await assertRejects(() => withJson({}, loadPodSandboxConfig), ConfigError, "metadata is not set");
  await assertRejects(
    () => withJson({ metadata: { name: "p" } }, loadPodSandboxConfig),
    ConfigError,
    "name or namespace",
  );
  await assertRejects(() => withJson({ metadata: {} }, loadContainerConfig), ConfigError, "name");
  await assertRejects(() => withJson("metadata: {}", loadContainerConfig), ConfigError, "not JSON");
});

Deno.test("parseFlags() stops at the first argument, as Go's flag package", () => {
  const exec = {
    shortOptionHandling: true,
    flags: [{ name: "sync", alias: "s", kind: "bool" as const }],
  };
  assertEquals(parseFlags(exec, ["-s", "id", "ls", "-l"]), {
    flags: new Map<string, string | true>([["sync", true]]),
    positional: ["id", "ls", "-l"],
  });
  assertEquals(parseFlags(exec, ["--", "-id"]).positional, ["-id"]);
  assertThrows(
    () => parseFlags(exec, ["-x", "id"]),
    UsageError,
    "flag provided but not defined: -x",
  );
});

Deno.test("parseFlags() takes values in every spelling and combines short bools where crictl does", () => {
  const rm = {
    shortOptionHandling: true,
    flags: [
      { name: "force", alias: "f", kind: "bool" as const },
      { name: "keep-logs", alias: "k", kind: "bool" as const },
      { name: "timeout", alias: "t", kind: "int" as const },
    ],
  };
  assertEquals([...parseFlags(rm, ["-fk", "x"]).flags.keys()], ["force", "keep-logs"]);
  assertEquals(parseFlags(rm, ["--timeout=3"]).flags.get("timeout"), "3");
  assertEquals(parseFlags(rm, ["-t", "3"]).flags.get("timeout"), "3");
  assertThrows(() => parseFlags(rm, ["-t", "soon"]), UsageError, "invalid value");
  assertThrows(() => parseFlags(rm, ["-t"]), UsageError, "needs an argument");
  assertThrows(() => parseFlags({ ...rm, shortOptionHandling: false }, ["-fk"]), UsageError);
});

Deno.test("parseShellLine() reads README's shell: captures, quotes, variables, comments", () => {
  const vars = { POD: "abc" };
  assertEquals(parseShellLine("  # a comment", vars), undefined);
  assertEquals(parseShellLine('CTR=$(crictl create "$POD" c.json p.json)', vars), {
    assign: "CTR",
    argv: ["crictl", "create", "abc", "c.json", "p.json"],
  });
  assertEquals(parseShellLine("crictl exec ${POD} sh -c 'echo $HOME'  # why", vars), {
    argv: ["crictl", "exec", "abc", "sh", "-c", "echo $HOME"],
  });
  assertThrows(() => parseShellLine("crictl logs $CTR", vars), UsageError, "$CTR is not set");
  for (
    const bad of ["crictl ps | head", "crictl ps; crictl pods", "crictl ps > out", "cd x && y"]
  ) {
    assertThrows(() => parseShellLine(bad, vars), UsageError, "more shell");
  }
});

Deno.test("table() aligns as crictl's tabwriter: at least 20 wide, 3 apart, the last cell bare", () => {
  assertEquals(
    table([["CONTAINER", "IMAGE", "NAMESPACE"], ["abc", "docker.io/library/busybox:stable", "x"]]),
    "CONTAINER           IMAGE                              NAMESPACE\n" +
      "abc                 docker.io/library/busybox:stable   x\n",
  );
});

Deno.test("humanDuration() words durations as go-units does", () => {
  assertEquals(humanDuration(400), "Less than a second");
  assertEquals(humanDuration(1_500), "1 second");
  assertEquals(humanDuration(42_000), "42 seconds");
  assertEquals(humanDuration(90_000), "About a minute");
  assertEquals(humanDuration(30 * 60_000), "30 minutes");
  assertEquals(humanDuration(3 * 3_600_000), "3 hours");
});
