/**
 * Hostile input, end to end: every RPC gets random bytes, truncated and oversized messages,
 * and hostile ids and names (`/`, `..`, NUL, 10 000 characters, unicode). The agent must
 * answer each with a clear status, stay up, and create nothing.
 *
 * The PRNG is seeded (SAUROPOD_FUZZ_SEED to replay a failure); the count of inputs is
 * printed for the record.
 */
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals } from "../testing/assert.ts";
import { ImageServiceDefinition, RuntimeServiceDefinition } from "../api/gen/api.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig } from "./harness/pods.ts";

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rawCall(
  client: grpc.Client,
  path: string,
  body: Uint8Array,
): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      body,
      new grpc.Metadata(),
      { deadline: Date.now() + 30_000 },
      (err) => resolve(err ? { code: err.code, details: err.details } : { code: 0, details: "" }),
    );
  });
}

const HOSTILE = [
  "/",
  "..",
  "../../etc/passwd",
  "a\0b",
  "x".repeat(10_000),
  "пример-юникод-🦕",
  " ",
  "\n",
  "%2e%2e%2f",
  "0".repeat(64),
];

Deno.test("fuzz: every RPC answers hostile input with a clear status and creates nothing", async () => {
  const seed = Number(Deno.env.get("SAUROPOD_FUZZ_SEED") ?? Date.now() % 1_000_000);
  const rand = prng(seed);
  await using env = await e2eEnv({ logLevel: "warn" });
  const { agent, client, images, logRoot } = env;
  const raw = new grpc.Client(`unix://${agent.socket}`, grpc.credentials.createInsecure(), {
    "grpc.default_authority": "localhost",
    "grpc.max_send_message_length": 64 << 20,
  });
  let inputs = 0;
  const statuses = new Map<number, number>();
  const note = (code: number) => {
    inputs++;
    statuses.set(code, (statuses.get(code) ?? 0) + 1);
  };
  try {
    // 1. Random, truncated and oversized bytes at every method of both services.
    for (const def of [RuntimeServiceDefinition, ImageServiceDefinition]) {
      for (const m of Object.values(def.methods)) {
        const path = `/${def.fullName}/${m.name}`;
        const bodies: Uint8Array[] = [];
        for (let i = 0; i < 6; i++) {
          const len = Math.floor(rand() ** 3 * 4096);
          bodies.push(crypto.getRandomValues(new Uint8Array(len)));
        }
        bodies.push(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])); // truncated length
        bodies.push(new Uint8Array([0x12, 0x05, 0x61])); // sub-message cut short
        bodies.push(new Uint8Array(17 << 20)); // over the 16 MiB limit
        for (const body of bodies) {
          if (m.responseStream) continue; // streaming RPCs would run until cancelled
          const r = await rawCall(raw, path, body);
          note(r.code);
          // A garbage request may decode into a valid empty-ish one; what matters is a status
          // that is not a crash, and an agent still up.
          assert(r.code !== grpc.status.UNAVAILABLE, `${m.name}: agent went away (${r.details})`);
        }
      }
    }

    // 2. Hostile ids at every id-taking RPC.
    const idCalls: ((id: string) => Promise<unknown>)[] = [
      (id) => client.runtime.stopPodSandbox({ podSandboxId: id }),
      (id) => client.runtime.removePodSandbox({ podSandboxId: id }),
      (id) => client.runtime.podSandboxStatus({ podSandboxId: id }),
      (id) => client.runtime.startContainer({ containerId: id }),
      (id) => client.runtime.stopContainer({ containerId: id, timeout: 0 }),
      (id) => client.runtime.removeContainer({ containerId: id }),
      (id) => client.runtime.containerStatus({ containerId: id }),
      (id) => client.runtime.execSync({ containerId: id, cmd: ["true"] }),
      (id) => client.runtime.exec({ containerId: id, cmd: ["true"], stdout: true }),
      (id) => client.runtime.attach({ containerId: id, stdout: true }),
      (id) => client.runtime.portForward({ podSandboxId: id, port: [80] }),
      (id) => client.runtime.containerStats({ containerId: id }),
      (id) => client.runtime.podSandboxStats({ podSandboxId: id }),
      (id) => client.runtime.updateContainerResources({ containerId: id }),
      (id) => client.runtime.reopenContainerLog({ containerId: id }),
      (id) => client.runtime.listContainers({ filter: { id, podSandboxId: id } }),
      (id) => client.image.imageStatus({ image: { image: id } }),
      (id) => client.image.removeImage({ image: { image: id } }),
      (id) => client.image.pullImage({ image: { image: id } }),
    ];
    for (const call of idCalls) {
      for (const id of HOSTILE) {
        try {
          await call(id);
          note(0);
        } catch (err) {
          assert(err instanceof CriError, String(err));
          assert(
            [
                  grpc.status.INVALID_ARGUMENT,
                  grpc.status.NOT_FOUND,
                  grpc.status.FAILED_PRECONDITION,
                  grpc.status.UNAVAILABLE,
                ].includes(err.code) && err.code !== grpc.status.UNAVAILABLE ||
              (err.code === grpc.status.UNAVAILABLE &&
                /registry|connect|resolve/i.test(err.details)),
            `${err.message}`,
          );
          note(err.code);
        }
      }
    }

    // 3. Hostile names and paths in the configs that create things.
    await client.image.pullImage({ image: { image: images.busybox.ref } });
    for (const bad of HOSTILE.filter((h) => h !== "0".repeat(64))) {
      for (const field of ["name", "namespace", "uid"] as const) {
        const cfg = podConfig(logRoot);
        cfg.metadata = { ...cfg.metadata, [field]: bad };
        try {
          await client.runtime.runPodSandbox({ config: cfg });
          note(0);
        } catch (err) {
          assert(err instanceof CriError && err.code === grpc.status.INVALID_ARGUMENT, String(err));
          note(err.code);
        }
      }
      for (const logDirectory of [bad, `/tmp/${bad}`]) {
        try {
          await client.runtime.runPodSandbox({ config: { ...podConfig(logRoot), logDirectory } });
          note(0);
        } catch (err) {
          assert(err instanceof CriError && err.code === grpc.status.INVALID_ARGUMENT, String(err));
          note(err.code);
        }
      }
    }
    assertEquals(
      (await client.runtime.listPodSandbox({})).items.filter((p) =>
        /[\0/]|\.\./.test(p.metadata!.name)
      ),
      [],
    );
    for (const p of (await client.runtime.listPodSandbox({})).items) {
      await client.runtime.removePodSandbox({ podSandboxId: p.id });
    }
    const pod = podConfig(logRoot, "target");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    for (const bad of HOSTILE.filter((h) => h !== "0".repeat(64))) {
      const variants = [
        containerConfig(bad, images.busybox.ref, ["true"]),
        containerConfig("c", images.busybox.ref, ["true"], { logPath: bad }),
        containerConfig("c", images.busybox.ref, ["true"], { workingDir: bad }),
        containerConfig("c", images.busybox.ref, ["true"], {
          mounts: [{ containerPath: bad, hostPath: "/tmp" }],
        }),
        containerConfig("c", images.busybox.ref, ["true"], {
          mounts: [{ containerPath: "/x", hostPath: bad }],
        }),
        containerConfig("c", bad, ["true"]),
      ];
      for (const config of variants) {
        try {
          const { containerId } = await client.runtime.createContainer({
            podSandboxId: podId,
            config,
          });
          await client.runtime.removeContainer({ containerId });
          note(0);
        } catch (err) {
          assert(
            err instanceof CriError &&
              [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND].includes(err.code),
            String(err),
          );
          note(err.code);
        }
      }
    }
    await client.runtime.removePodSandbox({ podSandboxId: podId });

    // The agent is up, and nothing was created.
    assertEquals((await client.runtime.version({})).runtimeName, "sauropod");
    assertEquals((await client.runtime.listPodSandbox({})).items, []);
    assertEquals((await client.runtime.listContainers({})).containers, []);
    assertEquals(await leftovers(agent), NOTHING);
    // deno-lint-ignore no-console -- the figures go into the closing note
    console.log(
      `fuzz: seed ${seed}, ${inputs} inputs, statuses ${
        JSON.stringify(Object.fromEntries([...statuses].map(([c, n]) => [grpc.status[c] ?? c, n])))
      }`,
    );
  } finally {
    raw.close();
  }
});

Deno.test("fuzz: hostile ids reach no path (a fresh client sees a clean agent)", async () => {
  await using env = await e2eEnv({ logLevel: "warn" });
  const c = new CriClient(env.agent.socket);
  try {
    for (const id of HOSTILE) {
      await c.runtime.removePodSandbox({ podSandboxId: id }).catch(() => {});
      await c.runtime.removeContainer({ containerId: id }).catch(() => {});
    }
    assertEquals((await c.runtime.version({})).runtimeName, "sauropod");
  } finally {
    c.close();
  }
  assertEquals(await leftovers(env.agent), NOTHING);
});
