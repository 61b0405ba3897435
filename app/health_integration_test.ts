import { assertRejects } from "../testing/assert.ts";
import { GrpcServer, protoCodec } from "../lib/grpc/mod.ts";
import { VersionRequest, VersionResponse } from "../api/gen/api.ts";
import { version } from "../cri/runtime/version.ts";
import { nullLogger } from "../log/mod.ts";
import { isUnavailable, kindOf } from "../errors/mod.ts";
import { criSelfCheck } from "./health.ts";

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-health-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function versionServer(
  opts: { maxConcurrentCalls?: number; gate?: Promise<void> } = {},
): GrpcServer {
  const server = new GrpcServer({
    maxRecvMessageBytes: 1 << 20,
    maxSendMessageBytes: 1 << 20,
    maxConcurrentStreams: 100,
    maxConcurrentCalls: opts.maxConcurrentCalls ?? 100,
    logger: nullLogger,
  });
  server.addUnary(
    "/runtime.v1.RuntimeService/Version",
    protoCodec(VersionRequest),
    protoCodec(VersionResponse),
    async (req) => {
      await opts.gate;
      return await version(req);
    },
  );
  return server;
}

Deno.test("criSelfCheck() passes against the real gRPC server answering Version", async () => {
  await withDir(async (dir) => {
    const server = versionServer();
    await server.listen(`${dir}/s.sock`);
    try {
      await criSelfCheck(`${dir}/s.sock`, 10_000);
      await criSelfCheck(`${dir}/s.sock`, 10_000); // and again: the first left nothing behind
    } finally {
      await server.shutdown(1000);
    }
  });
});

Deno.test("criSelfCheck() counts a saturated server's refusal as an answer: busy is not hung", async () => {
  await withDir(async (dir) => {
    const gate = Promise.withResolvers<void>();
    const server = versionServer({ maxConcurrentCalls: 1, gate: gate.promise });
    await server.listen(`${dir}/s.sock`);
    try {
      // The first call takes the only slot and waits at the gate.
      const holding = criSelfCheck(`${dir}/s.sock`, 30_000);
      // The second is refused with RESOURCE_EXHAUSTED, which is still an answer.
      await criSelfCheck(`${dir}/s.sock`, 30_000);
      gate.resolve();
      await holding;
    } finally {
      gate.resolve();
      await server.shutdown(1000);
    }
  });
});

Deno.test("criSelfCheck() fails with deadline-exceeded when the socket accepts but never answers", async () => {
  await withDir(async (dir) => {
    // A server whose loop accepts connections and then ignores them: alive to the kernel,
    // hung to a client.
    const listener = Deno.listen({ transport: "unix", path: `${dir}/hung.sock` });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of listener) held.push(c);
    })();
    try {
      const err = await assertRejects(() => criSelfCheck(`${dir}/hung.sock`, 300));
      if (kindOf(err) !== "deadline-exceeded") throw err;
    } finally {
      listener.close();
      await accepting.catch(() => {});
      for (const c of held) c.close();
    }
  });
});

Deno.test("criSelfCheck() fails when the server hangs up without answering", async () => {
  await withDir(async (dir) => {
    const listener = Deno.listen({ transport: "unix", path: `${dir}/rude.sock` });
    const serving = (async () => {
      for await (const c of listener) c.close();
    })();
    try {
      const err = await assertRejects(() => criSelfCheck(`${dir}/rude.sock`, 10_000));
      if (!isUnavailable(err)) throw err;
    } finally {
      listener.close();
      await serving.catch(() => {});
    }
  });
});

Deno.test("criSelfCheck() fails when nothing listens on the socket", async () => {
  await withDir(async (dir) => {
    await assertRejects(() => criSelfCheck(`${dir}/absent.sock`, 1000));
  });
});
