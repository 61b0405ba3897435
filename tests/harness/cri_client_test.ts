// The CRI test client against our own gRPC server on a temp-dir unix socket.
import {
  ContainerEventResponse,
  ContainerEventType,
  GetEventsRequest,
  ImageFsInfoRequest,
  ImageFsInfoResponse,
  ListPodSandboxRequest,
  ListPodSandboxResponse,
  RemovePodSandboxRequest,
  RemovePodSandboxResponse,
  VersionRequest,
  VersionResponse,
} from "../../api/gen/api.ts";
import {
  type CallContext,
  GrpcServer,
  protoCodec,
  Status,
  StatusError,
} from "../../lib/grpc/mod.ts";
import { nullLogger } from "../../log/mod.ts";
import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import { CriClient, CriError } from "./cri_client.ts";

interface Env {
  sock: string;
  seen: { listPodSandbox: ListPodSandboxRequest[]; contexts: CallContext[] };
  eventsEnded: Promise<void>;
}

async function withServer(fn: (env: Env) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cri-client-" });
  const sock = `${dir}/cri.sock`;
  const seen: Env["seen"] = { listPodSandbox: [], contexts: [] };
  const eventsEnded = Promise.withResolvers<void>();
  const server = new GrpcServer({
    maxRecvMessageBytes: 16 << 20,
    maxSendMessageBytes: 16 << 20,
    maxConcurrentStreams: 100,
    maxConcurrentCalls: 100,
    logger: nullLogger,
  });
  const rt = "/runtime.v1.RuntimeService";
  server.addUnary(
    `${rt}/Version`,
    protoCodec(VersionRequest),
    protoCodec(VersionResponse),
    (req) =>
      Promise.resolve(
        VersionResponse.fromPartial({
          version: req.version,
          runtimeName: "sauropod",
          runtimeApiVersion: "v1",
        }),
      ),
  );
  server.addUnary(
    `${rt}/ListPodSandbox`,
    protoCodec(ListPodSandboxRequest),
    protoCodec(ListPodSandboxResponse),
    (req) => {
      seen.listPodSandbox.push(req);
      return Promise.resolve(
        ListPodSandboxResponse.fromPartial({
          items: [{ id: "p1", createdAt: 1_700_000_000_000_000_000n }],
        }),
      );
    },
  );
  server.addUnary(
    `${rt}/RemovePodSandbox`,
    protoCodec(RemovePodSandboxRequest),
    protoCodec(RemovePodSandboxResponse),
    async (req, ctx) => {
      seen.contexts.push(ctx);
      if (req.podSandboxId === "wait") {
        await new Promise((resolve) =>
          ctx.signal.addEventListener("abort", resolve, { once: true })
        );
      }
      throw new StatusError(Status.NOT_FOUND, `pod sandbox "${req.podSandboxId}" not found`);
    },
  );
  server.addUnary(
    "/runtime.v1.ImageService/ImageFsInfo",
    protoCodec(ImageFsInfoRequest),
    protoCodec(ImageFsInfoResponse),
    () =>
      Promise.resolve(
        ImageFsInfoResponse.fromPartial({
          imageFilesystems: [{ timestamp: 5n, fsId: { mountpoint: "/var/lib/sauropod" } }],
        }),
      ),
  );
  server.addServerStream(
    `${rt}/GetContainerEvents`,
    protoCodec(GetEventsRequest),
    protoCodec(ContainerEventResponse),
    async (_req, ctx, send) => {
      try {
        for (let i = 0; !ctx.signal.aborted; i++) {
          await send(ContainerEventResponse.fromPartial({
            containerId: `c${i}`,
            containerEventType: ContainerEventType.CONTAINER_STARTED_EVENT,
            createdAt: BigInt(i),
          }));
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        eventsEnded.resolve();
      }
    },
  );
  await server.listen(sock);
  try {
    await fn({ sock, seen, eventsEnded: eventsEnded.promise });
  } finally {
    await server.shutdown(1_000);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("CriClient calls unary RPCs with typed requests built from partials", async () => {
  await withServer(async ({ sock, seen }) => {
    const cri = new CriClient(sock);
    try {
      const v = await cri.runtime.version({ version: "v1" });
      assertEquals([v.version, v.runtimeName, v.runtimeApiVersion], ["v1", "sauropod", "v1"]);
      const pods = await cri.runtime.listPodSandbox({ filter: { labelSelector: { app: "x" } } });
      assertEquals(pods.items.map((p) => [p.id, p.createdAt]), [[
        "p1",
        1_700_000_000_000_000_000n,
      ]]);
      // Fields left out arrive as protobuf defaults.
      assertEquals(seen.listPodSandbox[0]?.filter?.id, "");
      assertEquals(seen.listPodSandbox[0]?.filter?.labelSelector, { app: "x" });
      const fs = await cri.image.imageFsInfo();
      assertEquals(fs.imageFilesystems[0]?.fsId?.mountpoint, "/var/lib/sauropod");
      assertEquals(fs.imageFilesystems[0]?.timestamp, 5n);
    } finally {
      cri.close();
    }
  });
});

Deno.test("CriClient surfaces failures as CriError with the gRPC code and details", async () => {
  await withServer(async ({ sock }) => {
    const cri = new CriClient(sock);
    try {
      const err = await assertRejects(
        () => cri.runtime.removePodSandbox({ podSandboxId: "p9" }),
        CriError,
      );
      assertEquals([err.code, err.details], [Status.NOT_FOUND, 'pod sandbox "p9" not found']);
      assertEquals(err.method, "/runtime.v1.RuntimeService/RemovePodSandbox");
      const unimpl = await assertRejects(() => cri.runtime.status({}), CriError);
      assertEquals(unimpl.code, Status.UNIMPLEMENTED);
    } finally {
      cri.close();
    }
  });
});

Deno.test("CriClient applies a per-call timeout and cancels on an AbortSignal", async () => {
  await withServer(async ({ sock, seen }) => {
    const cri = new CriClient(sock);
    try {
      const late = await assertRejects(
        () => cri.runtime.removePodSandbox({ podSandboxId: "wait" }, { timeoutMs: 100 }),
        CriError,
      );
      assertEquals(late.code, Status.DEADLINE_EXCEEDED);
      const ac = new AbortController();
      const call = cri.runtime.removePodSandbox({ podSandboxId: "wait" }, { signal: ac.signal });
      while (seen.contexts.length < 2) await new Promise((r) => setTimeout(r, 5));
      ac.abort();
      assertEquals((await assertRejects(() => call, CriError)).code, Status.CANCELLED);
      while (!seen.contexts[1]!.signal.aborted) await new Promise((r) => setTimeout(r, 5));
    } finally {
      cri.close();
    }
  });
});

Deno.test("CriClient iterates a server stream, and leaving the loop cancels it", async () => {
  await withServer(async ({ sock, eventsEnded }) => {
    const cri = new CriClient(sock);
    try {
      const got: string[] = [];
      for await (const ev of cri.runtime.getContainerEvents({})) {
        got.push(ev.containerId);
        if (got.length === 5) break;
      }
      assertEquals(got, ["c0", "c1", "c2", "c3", "c4"]);
      await eventsEnded; // the server's handler saw the cancel and returned
    } finally {
      cri.close();
    }
  });
});

Deno.test("CriClient can send the socket path as :authority, as crictl ≤ 1.28 does", async () => {
  await withServer(async ({ sock }) => {
    const cri = new CriClient(sock, { authority: sock, timeoutMs: 2_000 });
    try {
      assert((await cri.runtime.version({})).runtimeName === "sauropod");
    } finally {
      cri.close();
    }
  });
});
