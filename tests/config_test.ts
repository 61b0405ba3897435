/**
 * The configuration as an operator changes it on a running node: `config.d/*.toml`
 * drop-ins (precedence, a bad one refused at start by file and key, `sauropod check`
 * naming where each key came from), and SIGHUP reloading registry mirrors with pods
 * running (the next pull uses the new mirror), naming keys that need a restart, keeping the
 * running config when a drop-in is malformed.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { ContainerState } from "../api/gen/api.ts";
import { testRegistry } from "./fixtures/images.ts";
import { TestAgent } from "./harness/agent.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, eventually, podConfig, runContainer } from "./harness/pods.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Waits until the agent has logged a line matching `re` after line `from`; returns it. */
function logged(agent: TestAgent, from: number, re: RegExp): Promise<string> {
  return eventually(
    `a log line matching ${re}`,
    () => agent.logs.slice(from).find((l) => re.test(l)),
    20_000,
  );
}

/** SIGHUP to the agent; resolves with the reload's log lines once it is done. */
async function hup(agent: TestAgent): Promise<string[]> {
  const from = agent.logs.length;
  Deno.kill(agent.pid, "SIGHUP");
  await logged(agent, from, /configuration reloaded|reload refused/);
  return agent.logs.slice(from);
}

Deno.test("config: drop-ins apply in lexical order; sauropod check names the file of each key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sp-" });
  await Deno.chmod(dir, 0o755);
  try {
    await Deno.mkdir(`${dir}/config.d`);
    // The main file (the harness's) says debug; 10 says error, 20 (later) says info.
    await Deno.writeTextFile(`${dir}/config.d/10-quiet.toml`, `[log]\nlevel = "error"\n`);
    await Deno.writeTextFile(
      `${dir}/config.d/20-info.toml`,
      `shutdown_grace_seconds = 7\n[log]\nlevel = "info"\n`,
    );
    await using agent = await TestAgent.start({ dir });
    await logged(agent, 0, /INFO\s+serving the CRI/);
    assert(!agent.logs.some((l) => / DEBUG /.test(l)), "debug lines despite 20-info.toml");

    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=agent",
        "--quiet",
        "main.ts",
        "check",
        "--json",
        "--config",
        agent.configPath,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      config: { key: string; value: unknown; source?: string }[];
    };
    const entry = (key: string) => report.config.find((e) => e.key === key);
    assertEquals(entry("log.level"), {
      key: "log.level",
      value: "info",
      source: `${dir}/config.d/20-info.toml`,
    });
    assertEquals(entry("shutdown_grace_seconds")?.source, `${dir}/config.d/20-info.toml`);
    assertEquals(entry("root")?.source, agent.configPath);
    assertEquals(entry("log.format"), { key: "log.format", value: "text" }); // default: no file
    await agent.stop();

    // A malformed drop-in: the agent does not start, and says which file and key.
    await Deno.writeTextFile(`${dir}/config.d/30-bad.toml`, `[image]\nmirors = {}\n`);
    const from = agent.logs.length;
    const err = await agent.launch().then(() => undefined, (e: Error) => e);
    assert(err, "the agent started with a malformed drop-in");
    const line = agent.logs.slice(from).find((l) => l.includes("invalid configuration"));
    assertStringIncludes(line ?? "", `${dir}/config.d/30-bad.toml: unknown key "image.mirors"`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("config: SIGHUP changes a mirror with pods running; the next pull uses it", async () => {
  // A registry of its own, reachable only as the mirror the reload adds (`busybox` is
  // `library/busybox` there): the short name cannot resolve any other way.
  await using mirror = await testRegistry();
  await using env = await e2eEnv();
  const { agent, client, images, logRoot } = env;
  const pid = agent.pid;

  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "reload");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const running = await runContainer(
    client,
    podId,
    containerConfig("sleeper", images.busybox.ref, ["sleep", "600"]),
    pod,
  );

  // An unchanged configuration: nothing to apply, and SIGHUP does not end the agent.
  assert((await hup(agent)).some((l) => l.includes("configuration reloaded: nothing to apply")));

  // The mirror, and a key that needs a restart, in a drop-in.
  await Deno.mkdir(`${agent.dir}/config.d`);
  await Deno.writeTextFile(
    `${agent.dir}/config.d/50-mirror.toml`,
    `[cni]\nplugin_timeout_seconds = 7\n[image.mirrors]\n"docker.io" = ["http://${mirror.images.host}"]\n`,
  );
  const lines = await hup(agent);
  const restart = lines.find((l) => l.includes("need") && l.includes("a restart"));
  assertStringIncludes(restart ?? lines.join("\n"), "cni.plugin_timeout_seconds changed");
  assert(
    lines.some((l) => /configuration reloaded .*applied=image\.mirrors/.test(l)),
    lines.join("\n"),
  );

  const pulled = await client.image.pullImage({ image: { image: "busybox" } });
  assertEquals(pulled.imageRef, mirror.images.busybox.id);
  const st = await client.image.imageStatus({
    image: { image: "docker.io/library/busybox:latest" },
  });
  assertEquals(st.image?.id, mirror.images.busybox.id);

  // A malformed drop-in: refused by file and key, the running config (the mirror) is kept.
  await Deno.writeTextFile(`${agent.dir}/config.d/60-bad.toml`, `[image]\nmirrors = 3\n`);
  const bad = await hup(agent);
  const refused = bad.find((l) => l.includes("reload refused"));
  assertStringIncludes(refused ?? bad.join("\n"), `${agent.dir}/config.d/60-bad.toml`);
  assertStringIncludes(refused!, "image.mirrors");
  const again = await client.image.pullImage({ image: { image: "busybox:latest" } });
  assertEquals(again.imageRef, mirror.images.busybox.id);

  // The same agent served throughout, and the pod kept running.
  assertEquals(agent.pid, pid);
  assert(agent.running);
  const cs = await client.runtime.containerStatus({ containerId: running });
  assertEquals(cs.status?.state, ContainerState.CONTAINER_RUNNING);
});
