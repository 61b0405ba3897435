/**
 * The foundation, end to end: the real agent on its socket, driven the way crictl drives it
 * (a gRPC client over the unix socket sending `:authority: localhost`).
 */
import * as grpc from "@grpc/grpc-js";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../testing/assert.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { TestAgent } from "./harness/agent.ts";

/** Sends raw bytes as the request message of `path` and returns the status. */
function rawCall(
  socket: string,
  path: string,
  body: Uint8Array,
): Promise<{ code: number; details: string }> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure(), {
    "grpc.default_authority": "localhost",
    "grpc.max_send_message_length": 64 << 20,
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 20_000 },
      (err) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: "" });
      },
    );
  });
}

Deno.test("foundation: Version, Status, errors and lifecycle over the CRI socket", async (t) => {
  await using agent = await TestAgent.start();
  const client = new CriClient(agent.socket);
  try {
    await t.step("Version names sauropod and the v1 API", async () => {
      const v = await client.runtime.version({ version: "0.1.0" });
      assertEquals(v.runtimeName, "sauropod");
      assertEquals(v.runtimeApiVersion, "v1");
      assertMatch(v.runtimeVersion, /^\d+\.\d+\.\d+/);
    });

    await t.step("Status reports RuntimeReady, and NetworkReady=false with a reason", async () => {
      const s = await client.runtime.status({});
      const runtime = s.status?.conditions.find((c) => c.type === "RuntimeReady");
      const network = s.status?.conditions.find((c) => c.type === "NetworkReady");
      assertEquals(runtime?.status, true);
      assertEquals(network?.status, false);
      assert(network?.reason, "NetworkReady=false must carry a reason");
      assertStringIncludes(network?.message ?? "", agent.dir);
      assertEquals(s.info, {});
    });

    await t.step("Status verbose carries the effective config as JSON", async () => {
      const s = await client.runtime.status({ verbose: true });
      const config = JSON.parse(s.info.config ?? "{}");
      assertEquals(config.socket, agent.socket);
      assertEquals(config.runtime.binary, "runc");
    });

    await t.step("RuntimeConfig reports the cgroup driver", async () => {
      const r = await client.runtime.runtimeConfig({});
      assertEquals(r.linux?.cgroupDriver, 1 /* CGROUPFS */);
    });

    await t.step("an unknown method answers UNIMPLEMENTED", async () => {
      const r = await rawCall(
        agent.socket,
        "/runtime.v1.RuntimeService/NoSuchThing",
        new Uint8Array(),
      );
      assertEquals(r.code, grpc.status.UNIMPLEMENTED);
      assertStringIncludes(r.details, "NoSuchThing");
    });

    await t.step("a malformed protobuf is INVALID_ARGUMENT and changes nothing", async () => {
      const r = await rawCall(
        agent.socket,
        "/runtime.v1.RuntimeService/RunPodSandbox",
        new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
      );
      assertEquals(r.code, grpc.status.INVALID_ARGUMENT);
      assertStringIncludes(r.details, "RunPodSandbox");
      assertEquals((await client.runtime.listPodSandbox({})).items.length, 0);
    });

    await t.step("a request over the size limit is RESOURCE_EXHAUSTED", async () => {
      const r = await rawCall(
        agent.socket,
        "/runtime.v1.RuntimeService/Version",
        new Uint8Array(17 << 20),
      );
      assertEquals(r.code, grpc.status.RESOURCE_EXHAUSTED);
    });

    await t.step("a request with a missing required field names the field", async () => {
      const err = await assertRejects(() => client.runtime.runPodSandbox({}), CriError);
      assertEquals(err.code, grpc.status.INVALID_ARGUMENT);
      assertStringIncludes(err.details, "config is required");
    });

    await t.step("2,000 calls on one connection, then close: the agent keeps serving", async () => {
      // Regression: Deno's node:http2 server aborted after ~128 streams on a closed connection.
      const c = new CriClient(agent.socket);
      for (let i = 0; i < 2000; i++) await c.runtime.version({});
      c.close();
      await new Promise((r) => setTimeout(r, 200));
      assertEquals((await client.runtime.version({})).runtimeName, "sauropod");
    });

    await t.step("a client sending the raw socket path as :authority is served", async () => {
      const old = new CriClient(agent.socket, { authority: agent.socket });
      try {
        assertEquals((await old.runtime.version({})).runtimeName, "sauropod");
      } finally {
        old.close();
      }
    });

    await t.step("the socket is 0660", async () => {
      const st = await Deno.stat(agent.socket);
      assertEquals((st.mode ?? 0) & 0o777, 0o660);
    });

    await t.step(
      "a second agent on the same socket is refused; the first keeps serving",
      async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-P=agent",
            "--quiet",
            "main.ts",
            "serve",
            "--config",
            agent.configPath,
          ],
          cwd: new URL("..", import.meta.url).pathname,
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 1);
        assertStringIncludes(new TextDecoder().decode(out.stderr), "already serving");
        assertEquals((await client.runtime.version({})).runtimeName, "sauropod");
      },
    );
  } finally {
    client.close();
  }

  const status = await agent.stop("SIGTERM");
  assertEquals(status.code, 0, agent.tail());
  await assertRejects(() => Deno.lstat(agent.socket), Deno.errors.NotFound);

  // A stale socket left by a crash is replaced at the next start.
  await agent.launch();
  await agent.stop("SIGKILL");
  assert((await Deno.lstat(agent.socket)).isSocket);
  await agent.launch();
  assert(agent.logs.some((l) => l.includes("removing stale socket")), agent.tail());
  const c2 = new CriClient(agent.socket);
  try {
    assertEquals((await c2.runtime.version({})).runtimeName, "sauropod");
  } finally {
    c2.close();
  }
});

Deno.test("foundation: the agent refuses a world-writable socket directory", async () => {
  // Short: the state dir must leave room for the shims' socket paths.
  const dir = `/tmp/sw-${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(dir);
  try {
    await Deno.mkdir(`${dir}/sock`);
    await Deno.chmod(`${dir}/sock`, 0o777);
    await Deno.writeTextFile(`${dir}/none.toml`, "");
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=agent",
        "--quiet",
        "main.ts",
        "serve",
        "--config",
        `${dir}/none.toml`,
        "--socket",
        `${dir}/sock/s.sock`,
        "--root",
        `${dir}/root`,
        "--state",
        `${dir}/state`,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 1);
    assertStringIncludes(new TextDecoder().decode(out.stderr), "world-writable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("foundation: a config with an unknown key stops the agent at startup, naming the key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cfg-" });
  try {
    await Deno.writeTextFile(`${dir}/c.toml`, `[runtime]\nbinnary = "runc"\n`);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P=agent", "--quiet", "main.ts", "serve", "--config", `${dir}/c.toml`],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 1);
    assertStringIncludes(new TextDecoder().decode(out.stderr), 'unknown key "runtime.binnary"');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
